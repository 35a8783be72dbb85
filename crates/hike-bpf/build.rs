//! Compiles every `bpf/**/*.bpf.c` of the repository with clang into `OUT_DIR` (the HIKe
//! programs and loaders twice: for XDP, and for TC with `-DHIKE_CTX_TC`), and generates the
//! tables of objects (by group) and of headers that `src/lib.rs` embeds.
//!
//! The compiler and its flags are `hike-toolchain`'s (warnings are fatal). The headers are the
//! SDK's (`bpf/include`) and libbpf's BPF headers from libbpf-sys (`DEP_BPF_INCLUDE`), so they
//! match the libbpf that loads the objects; both sets are embedded too, for compiling user
//! packages exactly like the standard objects.

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use hike_toolchain::{arch_include_dir, compile_command, find_clang, Warnings};

/// The groups of objects, by the folder their source is in; the first match wins. Every source
/// must fall in one (a new folder needs a group here and in `src/lib.rs`).
const GROUPS: [(&str, &str); 5] = [
    ("bpf/programs/test/", "test"),
    ("bpf/programs/", "standard"),
    ("bpf/loaders/", "standard"),
    ("bpf/bench/", "bench"),
    ("bpf/netlab/", "netlab"),
];

/// The groups whose objects are also built for TC (`-DHIKE_CTX_TC`, `bpf/include/hike/ctx.h`):
/// the HIKe programs and loaders, and the benchmarks' (whose raw baselines, which do not use
/// the SDK, come out the same in both builds). The traffic programs are built as written.
const TC_GROUPS: [&str; 3] = ["standard", "test", "bench"];

/// The define that selects the TC context.
const TC_DEFINE: &str = "HIKE_CTX_TC";

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let bpf = root.join("bpf");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let libbpf_include = PathBuf::from(
        env::var("DEP_BPF_INCLUDE").expect("libbpf-sys exports its include directory"),
    );
    let clang = find_clang().unwrap_or_else(|e| panic!("{e}"));
    let arch_include = arch_include_dir(&env::var("CARGO_CFG_TARGET_ARCH").unwrap());

    println!("cargo:rerun-if-changed={}", bpf.display());
    println!("cargo:rerun-if-env-changed={}", hike_toolchain::CLANG_ENV);

    let mut sources = Vec::new();
    collect(&bpf, &mut sources, &|p| p.ends_with(".bpf.c"));
    sources.sort();

    // (name, group, source relative to the repository, source path)
    let mut units = Vec::new();
    let mut seen = BTreeSet::new();
    for src in &sources {
        let name = src
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".bpf.c")
            .to_string();
        assert!(
            seen.insert(name.clone()),
            "two BPF sources are named `{name}`: names must be unique"
        );
        let rel = src.strip_prefix(&root).unwrap().display().to_string();
        let group = GROUPS
            .iter()
            .find(|(prefix, _)| rel.starts_with(prefix))
            .map(|(_, g)| *g)
            .unwrap_or_else(|| {
                panic!("`{rel}` is in no group of objects: add its folder to GROUPS")
            });
        units.push((name, group, rel, src.clone()));
    }
    let sdk_include = bpf.join("include");
    let include_dirs = [
        sdk_include.as_path(),
        libbpf_include.as_path(),
        arch_include.as_path(),
    ];
    let compile = |src: &Path, obj: &Path, tc: bool| {
        let mut cmd = compile_command(&clang, Warnings::Fatal, &include_dirs, src, obj);
        if tc {
            cmd.arg(format!("-D{TC_DEFINE}"));
        }
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{}`: {e} (run `make deps`)", clang.display()));
        if !output.status.success() {
            panic!(
                "clang failed on {}{}:\n{}{}",
                src.display(),
                if tc { " (TC)" } else { "" },
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    };
    // Every object, and the TC build of those whose group has one, compiled on every CPU.
    let mut jobs: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    for (name, group, _, src) in &units {
        jobs.push((src.clone(), out.join(format!("{name}.bpf.o")), false));
        if TC_GROUPS.contains(group) {
            jobs.push((src.clone(), out.join(format!("{name}.tc.bpf.o")), true));
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((src, obj, tc)) = jobs.get(i) else {
                    break;
                };
                compile(src, obj, *tc);
            });
        }
    });

    let mut code = String::new();
    // (group, object name, static holding its bytes, static of its TC build, source)
    let mut objects: Vec<(&str, String, String, String, String)> = Vec::new();
    let embed = |code: &mut String, stat: &str, obj: &Path| {
        // One static per object, referenced by its group's table and by the table of all: the
        // bytes are embedded once, and a binary that uses only some groups' tables lets the
        // linker drop the other objects.
        let len = fs::metadata(obj).unwrap().len();
        writeln!(
            code,
            "static {stat}: [u8; {len}] = *include_bytes!({:?});",
            obj.display().to_string()
        )
        .unwrap();
    };
    for (name, group, rel, _) in units {
        let bytes = format!("BYTES_{}", name.to_uppercase());
        embed(&mut code, &bytes, &out.join(format!("{name}.bpf.o")));
        let tc = if TC_GROUPS.contains(&group) {
            let tc = format!("TC_BYTES_{}", name.to_uppercase());
            embed(&mut code, &tc, &out.join(format!("{name}.tc.bpf.o")));
            format!("&{tc}")
        } else {
            "&[]".to_owned()
        };
        objects.push((group, name, bytes, tc, rel));
    }
    let table = |code: &mut String, static_name: &str, doc: &str, group: Option<&str>| {
        writeln!(code, "/// {doc}\npub static {static_name}: &[Object] = &[").unwrap();
        for (g, name, bytes, tc, rel) in &objects {
            if group.is_none_or(|group| group == *g) {
                writeln!(
                    code,
                    "    Object {{ name: {name:?}, source: {rel:?}, bytes: &{bytes}, tc_bytes: {tc} }},"
                )
                .unwrap();
            }
        }
        code.push_str("];\n");
    };
    table(
        &mut code,
        "ALL_OBJECTS",
        "Every object, by name (the source file name without `.bpf.c`).",
        None,
    );
    for group in ["standard", "test", "bench", "netlab"] {
        table(
            &mut code,
            &format!("{}_OBJECTS", group.to_uppercase()),
            &format!("The objects of the group `{group}`."),
            Some(group),
        );
    }

    code.push_str(
        "/// `(path under the include directory, bytes)` of every header the objects were compiled\n\
         /// with: the SDK (`bpf/include/**`) and libbpf's BPF headers (`bpf/bpf_helpers.h` & co.,\n\
         /// from libbpf-sys). A user package is compiled against exactly these.\n",
    );
    code.push_str("pub static STANDARD_HEADERS: &[(&str, &[u8])] = &[\n");
    let mut headers = Vec::new();
    let is_header = |p: &str| p.ends_with(".h");
    collect_rel(&sdk_include, &mut headers, &is_header);
    collect_rel(&libbpf_include, &mut headers, &is_header);
    headers.sort();
    headers.dedup_by(|a, b| a.0 == b.0);
    for (rel, path) in headers {
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");

    // The sources of the HIKe programs and loaders (`.bpf.c` and the package headers beside
    // them), for fused mode, which compiles a program's body into one object with the chains
    // that call it. Paths are relative to the repository, as `Object::source`.
    for (group, prefixes) in [
        ("STANDARD", &["bpf/programs/", "bpf/loaders/"][..]),
        ("TEST", &["bpf/programs/test/"][..]),
        ("BENCH", &["bpf/bench/"][..]),
    ] {
        writeln!(
            code,
            "/// `(path relative to the repository, bytes)` of the {} group's program and loader\n\
             /// sources and the headers beside them (fused mode compiles them).",
            group.to_lowercase()
        )
        .unwrap();
        writeln!(code, "pub static {group}_SOURCES: &[(&str, &[u8])] = &[").unwrap();
        let mut files = Vec::new();
        collect(&bpf, &mut files, &|p| {
            p.ends_with(".c") || p.ends_with(".h")
        });
        files.sort();
        for path in files {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let in_group = prefixes.iter().any(|p| rel.starts_with(p))
                && (group == "TEST" || !rel.starts_with("bpf/programs/test/"));
            if in_group {
                writeln!(
                    code,
                    "    ({rel:?}, include_bytes!({:?})),",
                    path.display().to_string()
                )
                .unwrap();
            }
        }
        code.push_str("];\n");
    }
    fs::write(out.join("objects.rs"), code).unwrap();
}

/// Every file under `dir` whose path `keep` accepts.
fn collect(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&str) -> bool) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out, keep);
        } else if path.to_str().is_some_and(keep) {
            out.push(path);
        }
    }
}

/// Every file under `root` whose path `keep` accepts, as (path relative to `root`, path).
fn collect_rel(root: &Path, out: &mut Vec<(String, PathBuf)>, keep: &dyn Fn(&str) -> bool) {
    let mut files = Vec::new();
    collect(root, &mut files, keep);
    for path in files {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        out.push((rel, path));
    }
}
