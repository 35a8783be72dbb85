//! The built objects of user packages in etcd, content-addressed: `objects/sha256/HEX` holds
//! the bytes whose SHA-256 is HEX, written once by the operator ([`upload`], only if absent)
//! and read by the nodes ([`fetch`], which checks the hash and keeps a copy in a local cache,
//! so that a node reads each object from etcd once). After a commit the operator deletes the
//! objects no script refers to ([`collect_garbage`]).
//!
//! A rollout lists what it writes under `uploads/LEASE`, under its lease, before writing: the
//! garbage collection of another rollout keeps those (see [`collect_garbage`]). This module
//! does not know what the objects are ([`crate::packages`] does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use sha2::{Digest, Sha256};

use crate::error::{request, FleetError, Result};
use crate::keys::Layout;
use crate::model::{Committed, Proposal};
use crate::store;

/// Built objects by the SHA-256 of their bytes (lowercase hex).
pub type Objects = BTreeMap<String, Arc<[u8]>>;

/// The largest object one etcd value takes: etcd refuses a request over its
/// `--max-request-bytes` (1.5 MiB by default), and the key and the request's framing take a
/// little of it.
pub const MAX_OBJECT_BYTES: usize = 3 * 512 * 1024 - 4096;

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a node could not get an object.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// etcd does not have it.
    #[error("object sha256:{hash} is not in etcd (`{key}`): deleted by hand, or by the garbage collection of a rollout that raced this one; apply again")]
    Missing {
        /// Its hash.
        hash: String,
        /// Its key.
        key: String,
    },
    /// etcd has other bytes under its hash.
    #[error("object sha256:{hash} read from etcd (`{key}`) has the SHA-256 {actual}: the key holds other bytes (corrupted, or written by hand); delete it (`etcdctl del {key}`) and apply again, the operator writes it again")]
    Mismatch {
        /// Its hash.
        hash: String,
        /// Its key.
        key: String,
        /// The hash of what the key holds.
        actual: String,
    },
    /// Reading etcd failed.
    #[error(transparent)]
    Fleet(#[from] FleetError),
}

/// Writes `objects` the keys do not already hold, each in its own transaction (one value per
/// request keeps every request under etcd's limit), after listing them under `uploads/` with
/// `lease` so that no garbage collection deletes them before the proposal names them.
pub async fn upload(
    client: &mut Client,
    layout: &Layout,
    objects: &Objects,
    lease: i64,
) -> Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let hashes: Vec<&String> = objects.keys().collect();
    store::put(client, &layout.upload(lease), &hashes, Some(lease)).await?;
    for (hash, bytes) in objects {
        let key = layout.object(hash);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), bytes.to_vec(), None::<PutOptions>)]);
        client
            .txn(txn)
            .await
            .map_err(request(format!("put {key}")))?;
    }
    Ok(())
}

/// The objects `hashes`, from the local cache `cache` or else from etcd (then kept in the
/// cache), each checked against its hash.
pub async fn fetch(
    client: &mut Client,
    layout: &Layout,
    hashes: &BTreeSet<String>,
    cache: &Path,
) -> std::result::Result<Objects, ObjectError> {
    let mut out = Objects::new();
    for hash in hashes {
        let path = cache_path(cache, hash);
        if let Ok(bytes) = std::fs::read(&path) {
            if digest(&bytes) == *hash {
                out.insert(hash.clone(), bytes.into());
                continue;
            }
            // A damaged copy is read again from etcd and replaced.
        }
        let key = layout.object(hash);
        let resp = client
            .get(key.clone(), None)
            .await
            .map_err(request(format!("get {key}")))?;
        let Some(kv) = resp.kvs().first() else {
            return Err(ObjectError::Missing {
                hash: hash.clone(),
                key,
            });
        };
        let actual = digest(kv.value());
        if actual != *hash {
            return Err(ObjectError::Mismatch {
                hash: hash.clone(),
                key,
                actual,
            });
        }
        keep(cache, &path, kv.value());
        out.insert(hash.clone(), Arc::from(kv.value()));
    }
    Ok(out)
}

/// Where the cache `cache` keeps object `hash`.
pub fn cache_path(cache: &Path, hash: &str) -> PathBuf {
    cache.join(format!("{hash}.bpf.o"))
}

/// Why the cache could not give an object (a node reading what it runs, without etcd).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The file is not there, or cannot be read.
    #[error("object sha256:{hash} cannot be read from the node's cache (`{}`): {source}", path.display())]
    Unreadable {
        /// Its hash.
        hash: String,
        /// Its file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds other bytes.
    #[error("object sha256:{hash} in the node's cache (`{}`) has the SHA-256 {actual}: the file was changed or damaged", path.display())]
    Mismatch {
        /// Its hash.
        hash: String,
        /// Its file.
        path: PathBuf,
        /// The hash of what the file holds.
        actual: String,
    },
}

/// The objects `hashes` from the cache alone (no etcd), each checked against its hash.
pub fn read_cached(
    cache: &Path,
    hashes: &BTreeSet<String>,
) -> std::result::Result<Objects, CacheError> {
    let mut out = Objects::new();
    for hash in hashes {
        let path = cache_path(cache, hash);
        let bytes = std::fs::read(&path).map_err(|source| CacheError::Unreadable {
            hash: hash.clone(),
            path: path.clone(),
            source,
        })?;
        let actual = digest(&bytes);
        if actual != *hash {
            return Err(CacheError::Mismatch {
                hash: hash.clone(),
                path,
                actual,
            });
        }
        out.insert(hash.clone(), bytes.into());
    }
    Ok(out)
}

/// Puts `objects` in the cache where it lacks them (or holds other bytes): what a node runs
/// stays readable after a restart, without etcd.
pub fn keep_all(cache: &Path, objects: &Objects) {
    for (hash, bytes) in objects {
        let path = cache_path(cache, hash);
        match std::fs::read(&path) {
            Ok(have) if digest(&have) == *hash => {}
            _ => keep(cache, &path, bytes),
        }
    }
}

/// Removes from the cache every object not in `used` (and temporary files a killed writer
/// left); how many went. Other files are left alone.
pub fn prune_cache(cache: &Path, used: &BTreeSet<String>) -> usize {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((hash, ext)) = name.split_once('.') else {
            continue;
        };
        let ours = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        let unused = ext == "bpf.o" && !used.contains(hash);
        // A temporary file of another process: a writer killed before its rename.
        let left = ext.starts_with("bpf.tmp") && ext != format!("bpf.tmp{}", std::process::id());
        if ours && (unused || left) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Writes a checked object to the cache, beside and renamed (a reader sees all of it or
/// nothing). A failure is only logged: the object is read from etcd again next time.
fn keep(cache: &Path, path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let ok = std::fs::create_dir_all(cache)
        .and_then(|()| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = ok {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(cache = %cache.display(), "fleet: cannot keep an object in the cache: {e}");
    }
}

/// Deletes the objects that no committed script, no proposal and no rollout's upload list
/// names; how many went. Each delete is a transaction that holds only if nothing under
/// `scripts/` or `uploads/` changed since the read, so a rollout that started meanwhile keeps
/// its objects.
pub async fn collect_garbage(client: &mut Client, layout: &Layout) -> Result<usize> {
    let (scripts, rev) = store::list::<serde_json::Value>(client, &layout.scripts()).await?;
    let mut used: BTreeSet<String> = BTreeSet::new();
    for r in scripts {
        let spec = match layout.parse_script_key(&r.key) {
            Some((_, "committed")) => serde_json::from_value::<Committed>(r.value)
                .ok()
                .and_then(|c| c.spec().cloned()),
            Some((_, "proposal")) => {
                serde_json::from_value::<Proposal>(r.value)
                    .ok()
                    .and_then(|p| match p.action {
                        crate::model::Action::Apply { spec } => Some(spec),
                        crate::model::Action::Delete => None,
                    })
            }
            _ => None,
        };
        used.extend(spec.iter().flat_map(|s| s.object_hashes()));
    }
    let uploads = client
        .get(
            layout.uploads(),
            Some(GetOptions::new().with_prefix().with_revision(rev)),
        )
        .await
        .map_err(request("get uploads"))?;
    for kv in uploads.kvs() {
        if let Ok(list) = serde_json::from_slice::<Vec<String>>(kv.value()) {
            used.extend(list);
        }
    }
    let keys = store::keys(client, &layout.objects()).await?;
    let mut deleted = 0;
    for key in keys {
        let Some(hash) = Layout::leaf(&key, &layout.objects()) else {
            continue;
        };
        if used.contains(hash) {
            continue;
        }
        let txn = Txn::new()
            .when([
                Compare::mod_revision(layout.scripts(), CompareOp::Less, rev + 1).with_prefix(),
                Compare::mod_revision(layout.uploads(), CompareOp::Less, rev + 1).with_prefix(),
            ])
            .and_then([TxnOp::delete(key.clone(), None)]);
        let resp = client
            .txn(txn)
            .await
            .map_err(request(format!("delete {key}")))?;
        if !resp.succeeded() {
            // Another rollout started: what it needs is not known here; the next commit
            // collects.
            break;
        }
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("eclat-objects-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_cache_gives_back_what_it_kept_and_names_what_is_wrong() {
        let cache = scratch("read");
        let a: Arc<[u8]> = Arc::from(&b"object a"[..]);
        let b: Arc<[u8]> = Arc::from(&b"object b"[..]);
        let objects: Objects = [(digest(&a), a.clone()), (digest(&b), b.clone())].into();
        keep_all(&cache, &objects);
        let hashes: BTreeSet<String> = objects.keys().cloned().collect();
        assert_eq!(read_cached(&cache, &hashes).unwrap(), objects);

        std::fs::write(cache_path(&cache, &digest(&a)), b"damaged").unwrap();
        let e = read_cached(&cache, &hashes).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("object sha256:{} in the node's cache", digest(&a)))
                && e.contains(&format!("has the SHA-256 {}", digest(b"damaged"))),
            "{e}"
        );
        // Kept again: the damaged copy is replaced.
        keep_all(&cache, &objects);
        assert_eq!(read_cached(&cache, &hashes).unwrap(), objects);

        std::fs::remove_file(cache_path(&cache, &digest(&b))).unwrap();
        let e = read_cached(&cache, &hashes).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("object sha256:{} cannot be read", digest(&b))),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&cache);
    }

    #[test]
    fn pruning_keeps_what_is_used_and_nothing_else_of_ours() {
        let cache = scratch("prune");
        let used: Arc<[u8]> = Arc::from(&b"used"[..]);
        let old: Arc<[u8]> = Arc::from(&b"old"[..]);
        keep_all(
            &cache,
            &[(digest(&used), used.clone()), (digest(&old), old.clone())].into(),
        );
        // A writer killed before its rename, and a file that is not ours.
        let left = cache.join(format!("{}.bpf.tmp1", digest(b"x")));
        std::fs::write(&left, b"x").unwrap();
        std::fs::write(cache.join("README"), b"mine").unwrap();
        let removed = prune_cache(&cache, &[digest(&used)].into());
        assert_eq!(removed, 2);
        let mut names: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec!["README".to_owned(), format!("{}.bpf.o", digest(&used))]
        );
        let _ = std::fs::remove_dir_all(&cache);
    }
}
