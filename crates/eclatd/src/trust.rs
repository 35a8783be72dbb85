//! Nothing others can write is trusted: the directories eclatd keeps its state and its
//! socket in must be writable by root (or eclatd's own user) only, all the way from `/`; and
//! the state files in them are opened relative to the directory's descriptor without
//! following symbolic links, so that a link planted by anyone cannot make root write
//! elsewhere.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a directory is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum Untrusted {
    /// It, or a directory above it, is owned by a user other than root and eclatd's own.
    #[error("{what} `{}` is not safe: `{}` is owned by uid {uid}, not by root; fix: `chown root: {}`, or give eclatd another directory", dir.display(), culprit.display(), culprit.display())]
    Owner {
        /// What the directory is for.
        what: &'static str,
        /// The directory.
        dir: PathBuf,
        /// The directory at fault (it or one above it).
        culprit: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// It, or a directory above it (without the sticky bit), is writable by others.
    #[error("{what} `{}` is not safe: `{}` is writable by {who} (mode {mode:04o}); fix: `chmod go-w {}`, or give eclatd another directory", dir.display(), culprit.display(), culprit.display())]
    Writable {
        /// What the directory is for.
        what: &'static str,
        /// The directory.
        dir: PathBuf,
        /// The directory at fault.
        culprit: PathBuf,
        /// `its group`, `others` or `its group and others`.
        who: &'static str,
        /// Its permission bits.
        mode: u32,
    },
    /// It could not be inspected.
    #[error("cannot inspect {what} `{}`: {source}", dir.display())]
    Inspect {
        /// What the directory is for.
        what: &'static str,
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Checks that `dir` (an existing directory) and every directory above it can be changed by
/// root (or eclatd's own user) only: owned by one of them, and not writable by group or
/// others — except, above `dir`, a directory with the sticky bit (`/tmp`), where others
/// cannot rename or remove what is not theirs.
pub fn check_dir(dir: &Path, what: &'static str) -> Result<(), Untrusted> {
    let inspect = |source| Untrusted::Inspect {
        what,
        dir: dir.to_owned(),
        source,
    };
    let real = dir.canonicalize().map_err(inspect)?;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let mut first = true;
    for d in real.ancestors() {
        let meta = std::fs::metadata(d).map_err(inspect)?;
        if meta.uid() != 0 && meta.uid() != me {
            return Err(Untrusted::Owner {
                what,
                dir: dir.to_owned(),
                culprit: d.to_owned(),
                uid: meta.uid(),
            });
        }
        let mode = meta.mode() & 0o7777;
        let sticky = mode & 0o1000 != 0;
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => Some("its group and others"),
            (true, false) => Some("its group"),
            (false, true) => Some("others"),
            (false, false) => None,
        };
        if let Some(who) = who.filter(|_| first || !sticky) {
            return Err(Untrusted::Writable {
                what,
                dir: dir.to_owned(),
                culprit: d.to_owned(),
                who,
                mode,
            });
        }
        first = false;
    }
    Ok(())
}

/// An open directory whose files are reached by name relative to it, never through a
/// symbolic link.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

fn c_name(name: &str) -> io::Result<CString> {
    if name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a plain file name",
        ));
    }
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a name"))
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

impl Dir {
    /// Opens directory `path` (itself not through a symbolic link at its last component).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
        // SAFETY: `c` is a valid NUL-terminated path.
        let fd = cvt(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: a non-negative return of `open` is a new descriptor that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Dir { fd })
    }

    fn openat(&self, name: &str, flags: libc::c_int) -> io::Result<File> {
        let c = c_name(name)?;
        // SAFETY: `self.fd` is an open directory and `c` a valid NUL-terminated name.
        let fd = cvt(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
            )
        })?;
        // SAFETY: a non-negative return of `openat` is a new descriptor that we own.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Opens file `name` for reading; `None` if there is none. A symbolic link is an error.
    pub fn read_file(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match self.openat(name, libc::O_RDONLY) {
            Ok(mut f) => {
                let mut buf = Vec::new();
                io::Read::read_to_end(&mut f, &mut buf)?;
                Ok(Some(buf))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates file `name` anew (mode 0600), removing whatever had that name first (a file
    /// or a link, never what a link points at).
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        self.remove(name)?;
        self.openat(name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)
    }

    /// Removes `name` if it exists (the name itself, whatever it is).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let c = c_name(name)?;
        // SAFETY: valid directory descriptor and NUL-terminated name.
        match cvt(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) }) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether `name` exists (without following a link).
    pub fn exists(&self, name: &str) -> io::Result<bool> {
        let c = c_name(name)?;
        // SAFETY: an all-zero stat is a valid out-value; valid descriptor and name.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        match cvt(unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Hard-links `from` as `to` (the name `from` itself, not what a link points at).
    pub fn link(&self, from: &str, to: &str) -> io::Result<()> {
        let (f, t) = (c_name(from)?, c_name(to)?);
        // SAFETY: valid directory descriptor and names; flags 0: no link is followed.
        cvt(unsafe {
            libc::linkat(
                self.fd.as_raw_fd(),
                f.as_ptr(),
                self.fd.as_raw_fd(),
                t.as_ptr(),
                0,
            )
        })
        .map(drop)
    }

    /// Renames `from` to `to`, atomically replacing `to`.
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (f, t) = (c_name(from)?, c_name(to)?);
        // SAFETY: valid directory descriptor and names.
        cvt(unsafe {
            libc::renameat(
                self.fd.as_raw_fd(),
                f.as_ptr(),
                self.fd.as_raw_fd(),
                t.as_ptr(),
            )
        })
        .map(drop)
    }

    /// Flushes the directory (its entries) to disk.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: valid descriptor.
        cvt(unsafe { libc::fsync(self.fd.as_raw_fd()) }).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("eclatd-trust-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    #[test]
    fn a_private_directory_under_tmp_is_trusted_and_a_writable_one_is_not() {
        let d = tempdir("modes");
        check_dir(&d, "the state directory").expect("0700 under sticky /tmp");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_dir(&d, "the state directory")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is writable by its group and others (mode 0777)"),
            "{e}"
        );
        assert!(e.contains("chmod go-w"), "{e}");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        check_dir(&d, "the state directory").expect("readable is fine");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_directory_owned_by_another_user_is_not_trusted() {
        let d = tempdir("owner");
        let c = CString::new(d.as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path; chown to the conventional `nobody`.
        assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
        let e = check_dir(&d, "the socket directory")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is owned by uid 65534"), "{e}");
        assert!(e.contains("chown root:"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn files_are_never_reached_through_a_planted_link() {
        let d = tempdir("links");
        let target = d.join("target");
        std::fs::write(&target, "precious").unwrap();
        std::os::unix::fs::symlink(&target, d.join("state.json.tmp")).unwrap();
        std::os::unix::fs::symlink(&target, d.join("state.json")).unwrap();
        let dir = Dir::open(&d).unwrap();
        // Reading through a link is refused, not followed.
        let e = dir.read_file("state.json").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        // Creating replaces the link itself; the target is untouched.
        let mut f = dir.create_new("state.json.tmp").unwrap();
        io::Write::write_all(&mut f, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(d.join("state.json.tmp"))
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
