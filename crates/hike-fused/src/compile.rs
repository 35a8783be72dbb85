//! Compiling a fused program: the SDK's headers and the embedded program and loader sources
//! written into a private build directory, the generated C beside them, clang run with the
//! project's flags. The directory is removed after a successful build and kept (and named in
//! the error) when clang fails, so the generated C can be read; with `HIKE_FUSED_KEEP` set in
//! the environment it is kept after every build (to read the C and the object of a build that
//! worked, e.g. a benchmark's).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use hike_toolchain::{arch_include_dir, compile_command, find_clang, Warnings};

use crate::{FuseError, Script, Source};

/// A fused program, compiled.
#[derive(Clone, Debug)]
pub struct Fused {
    /// The ELF object: one program, [`crate::ENTRY`], and the maps of every source, named as
    /// in the interpreted objects.
    pub object: Vec<u8>,
    /// The generated C (for `--emit`-like inspection and tests).
    pub c: String,
    /// Built with the metadata in the per-CPU state (`HIKE_FUSED_META_IN_STATE`): a program
    /// reads it outside its body (`bpf/include/hike/sdk.h`: `hike_meta()`).
    pub meta_in_state: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FuseError + '_ {
    move |source| FuseError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), FuseError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::write(path, bytes).map_err(io(path))
}

/// A new private directory for one build.
fn build_dir() -> Result<PathBuf, FuseError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hike-fused-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    Ok(dir)
}

/// The function `hike_meta()` calls outside a program's body in a build without the metadata in
/// the state: clang's error names it.
const META_OUTSIDE_BODY: &str = "___hike_meta_outside_body";

/// Runs `clang` (found once per build: [`find_clang`] may try several) on the generated `file`.
fn clang(
    clang: &Path,
    file: &Path,
    out: &Path,
    include: &Path,
    defines: &[&str],
) -> Result<std::process::Output, FuseError> {
    let arch_include = arch_include_dir(std::env::consts::ARCH);
    compile_command(
        clang,
        Warnings::Reported,
        &[include, &arch_include],
        file,
        out,
    )
    .args(defines)
    .output()
    .map_err(|source| FuseError::RunClang {
        clang: clang.display().to_string(),
        source,
    })
}

/// Generates and compiles the fused program of `script`.
pub fn compile(script: &Script) -> Result<Fused, FuseError> {
    let dir = build_dir()?;
    let result = build_in(&dir, script);
    let keep = std::env::var_os("HIKE_FUSED_KEEP").is_some();
    if !keep && !matches!(result, Err(FuseError::Clang { .. })) {
        let _ = fs::remove_dir_all(&dir);
    }
    result
}

fn build_in(dir: &Path, script: &Script) -> Result<Fused, FuseError> {
    let include = dir.join("include");
    for (rel, bytes) in hike_bpf::standard::HEADERS {
        write(&include.join(rel), bytes)?;
    }
    // Every embedded source, so that a program's own headers are found beside it.
    for (rel, bytes) in hike_bpf::standard::SOURCES
        .iter()
        .chain(hike_bpf::test::SOURCES)
        .chain(hike_bpf::bench::SOURCES)
    {
        write(&dir.join(rel), bytes)?;
    }
    let mut sources = BTreeMap::new();
    let owners = script
        .programs
        .iter()
        .map(|p| (&p.name, &p.source))
        .chain([(&script.loader.name, &script.loader.source)]);
    for (owner, src) in owners {
        let path = match src {
            Source::Embedded(rel) => {
                let known = hike_bpf::standard::SOURCES
                    .iter()
                    .chain(hike_bpf::test::SOURCES)
                    .chain(hike_bpf::bench::SOURCES)
                    .any(|(r, _)| r == rel);
                if !known {
                    return Err(FuseError::NoSource {
                        owner: owner.clone(),
                        source_name: rel.clone(),
                    });
                }
                dir.join(rel)
            }
            Source::File(path) => {
                if !path.is_file() {
                    return Err(FuseError::NoSource {
                        owner: owner.clone(),
                        source_name: path.display().to_string(),
                    });
                }
                path.clone()
            }
        };
        sources.insert(src.clone(), path.display().to_string());
    }
    let c = crate::generate(script, &sources)?;
    let file = dir.join("hike_fused.c");
    write(&file, c.as_bytes())?;
    let out = dir.join("hike_fused.o");
    let compiler = find_clang()?;
    let mut output = clang(&compiler, &file, &out, &include, &[])?;
    // A program that reads the metadata outside its body (sdk.h: hike_meta()) needs it in the
    // per-CPU state, as interpreted: built again so, a little slower.
    let meta_in_state = !output.status.success()
        && String::from_utf8_lossy(&output.stderr).contains(META_OUTSIDE_BODY);
    if meta_in_state {
        output = clang(
            &compiler,
            &file,
            &out,
            &include,
            &["-DHIKE_FUSED_META_IN_STATE"],
        )?;
    }
    if !output.status.success() {
        return Err(FuseError::Clang {
            file,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    let object = fs::read(&out).map_err(io(&out))?;
    Ok(Fused {
        object,
        c,
        meta_in_state,
    })
}

#[cfg(test)]
mod tests {
    use hike_isa::{op, Insn};

    use super::*;
    use crate::{Chain, Loader, Program};

    /// A script of one chain that calls program `hops`, written in `source`.
    fn build(label: &str, source: &str) -> Result<Fused, FuseError> {
        let dir =
            std::env::temp_dir().join(format!("hike-fused-test-{label}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hops.bpf.c");
        fs::write(&file, source).unwrap();
        let script = Script {
            chains: vec![Chain {
                id: 1,
                name: "c1".into(),
                insns: vec![
                    Insn::new(op::JMP | op::CALL, 0, hike_isa::abi::CALL_PROG, 0, 7),
                    Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
                ],
                origin: None,
            }],
            programs: vec![Program {
                id: 7,
                name: "hops".into(),
                nparams: 0,
                source: Source::File(file),
            }],
            loader: Loader {
                name: "test_loader".into(),
                source: Source::Embedded("bpf/programs/test/test_loader.bpf.c".into()),
            },
            tc: false,
        };
        let fused = compile(&script);
        let _ = fs::remove_dir_all(&dir);
        fused
    }

    #[test]
    fn a_program_that_reads_the_metadata_in_its_body_keeps_it_out_of_the_state() {
        let fused = build(
            "body",
            "#include <hike/net.h>\nHIKE_PROG(hops)\n{\n\tstruct ipv6hdr *ip6 = hike_ip6(ctx);\n\n\
             \tHIKE_RETURN(ip6 ? ip6->hop_limit : HIKE_NOT_APPLICABLE);\n}\n\
             char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";\n",
        )
        .unwrap();
        assert!(!fused.meta_in_state);
        assert!(!fused.object.is_empty());
    }

    #[test]
    fn a_program_that_reads_the_metadata_in_a_helper_is_built_with_it_in_the_state() {
        let fused = build(
            "helper",
            "#include <hike/net.h>\n\
             static __always_inline __u64 hops(struct xdp_md *ctx)\n{\n\
             \tstruct ipv6hdr *ip6 = hike_ip6(ctx);\n\n\
             \treturn ip6 ? ip6->hop_limit : HIKE_NOT_APPLICABLE;\n}\n\
             HIKE_PROG(hops)\n{\n\tHIKE_RETURN(hops(ctx));\n}\n\
             char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";\n",
        )
        .unwrap();
        assert!(fused.meta_in_state);
        assert!(!fused.object.is_empty());
    }
}
