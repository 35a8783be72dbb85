//! The Rust mirror `hike_isa::abi` agrees with its source of truth, `bpf/include/hike/abi.h`.
//!
//! The test reads the header, finds every `HIKE_*` object-like macro, every enumerator, every
//! field of every `struct hike_*` and every `typedef … hike_*`, writes a C probe that prints
//! their values, sizes, offsets and signedness, compiles it with the host C compiler (`$CC`, else `cc`) and compares each line with
//! the Rust value. A constant, enumerator or field on one side only is a failure too, so a
//! header change without its mirror (or the reverse) cannot pass. The XDP verdicts
//! (`abi::XdpAction`) are checked the same way against the kernel's `linux/bpf.h`.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use hike_isa::abi::{self, Helper, XdpAction};
use hike_isa::abi::{
    ChainDesc, ChainRef, ChainStats, DispatchKey, Event, Fault, Frame, LoaderConfig, PktMeta,
    ProgStats, TraceRec, VmConfig, VmState,
};

/// A temporary directory removed when dropped, even if the test panics.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("hike-abi-probe-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).expect("create the probe directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the header declares.
#[derive(Default)]
struct Header {
    /// `HIKE_*` object-like macros and enumerators.
    constants: Vec<String>,
    /// `struct hike_*` names with their fields.
    structs: Vec<(String, Vec<String>)>,
    /// `typedef … hike_*` names.
    typedefs: Vec<String>,
}

fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            let end = after.find("*/").expect("unterminated comment");
            out.push(' ');
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |n| &after[n..]);
        } else {
            let c = rest.chars().next().expect("non-empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn ident_prefix(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The `{ … }` bodies of `keyword hike_NAME { … }` definitions (not `struct hike_x y;` uses).
fn blocks<'a>(src: &'a str, keyword: &str) -> Vec<(String, &'a str)> {
    let needle = format!("{keyword} hike_");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = src[from..].find(&needle) {
        let start = from + at + keyword.len() + 1;
        let name = ident_prefix(&src[start..]);
        let after = src[start + name.len()..].trim_start();
        from = start + name.len();
        if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').expect("unterminated block");
            found.push((name.to_string(), &body[..end]));
        }
    }
    found
}

fn parse_header(src: &str) -> Header {
    let src = strip_comments(src);
    let mut header = Header::default();
    for line in src.lines() {
        let Some(rest) = line.trim_start().strip_prefix("#define") else {
            continue;
        };
        let rest = rest.trim_start();
        let name = ident_prefix(rest);
        let value = &rest[name.len()..];
        if name.starts_with("HIKE_") && !value.starts_with('(') && !value.trim().is_empty() {
            header.constants.push(name.to_string());
        }
    }
    for (_, body) in blocks(&src, "enum") {
        for member in body.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            header.constants.push(ident_prefix(member).to_string());
        }
    }
    for (name, body) in blocks(&src, "struct") {
        let fields = body
            .split(';')
            .map(|decl| decl.split('[').next().expect("split").trim())
            .filter(|decl| !decl.is_empty())
            .map(|decl| {
                decl.rsplit(char::is_whitespace)
                    .next()
                    .expect("field name")
                    .to_string()
            })
            .collect();
        header.structs.push((name, fields));
    }
    for line in src.lines() {
        let Some(decl) = line.trim().strip_prefix("typedef ") else {
            continue;
        };
        let name = decl
            .trim_end_matches(';')
            .rsplit(char::is_whitespace)
            .next();
        if let Some(name) = name.filter(|n| n.starts_with("hike_")) {
            header.typedefs.push(name.to_string());
        }
    }
    header
}

/// The kernel's XDP verdicts, in value order, as `linux/bpf.h` names them.
const XDP_ACTIONS: [&str; 5] = [
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "XDP_REDIRECT",
];

fn probe_source(header: &Header) -> String {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/bpf.h>\n#include \"hike/abi.h\"\n\nint main(void)\n{\n",
    );
    // The XDP verdicts are the kernel's (`enum xdp_action`), mirrored by `abi::XdpAction`.
    for name in XDP_ACTIONS {
        c += &format!("\tprintf(\"{name} %llu\\n\", (unsigned long long)({name}));\n");
    }
    for name in &header.constants {
        c += &format!("\tprintf(\"{name} %llu\\n\", (unsigned long long)({name}));\n");
    }
    for (s, fields) in &header.structs {
        c += &format!("\tprintf(\"sizeof {s} %zu\\n\", sizeof(struct {s}));\n");
        for f in fields {
            c += &format!("\tprintf(\"offsetof {s}.{f} %zu\\n\", offsetof(struct {s}, {f}));\n");
            c += &format!(
                "\tprintf(\"fieldsize {s}.{f} %zu\\n\", sizeof(((struct {s} *)0)->{f}));\n"
            );
        }
    }
    for t in &header.typedefs {
        c += &format!("\tprintf(\"sizeof {t} %zu\\n\", sizeof({t}));\n");
        c += &format!("\tprintf(\"signed {t} %d\\n\", ({t})-1 < 0);\n");
    }
    c + "\treturn 0;\n}\n"
}

/// Compiles and runs the probe; its output as name → value.
fn run_probe(include: &Path, source: &str) -> BTreeMap<String, u64> {
    let dir = TempDir::new();
    let src = dir.0.join("probe.c");
    let exe = dir.0.join("probe");
    std::fs::write(&src, source).expect("write the probe");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Werror", "-I"])
        .arg(include)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        out.status.success(),
        "the probe does not compile:\n{}\n{source}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().expect("run the probe");
    assert!(out.status.success(), "the probe failed");
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .lines()
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').expect("`key value`");
            (key.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Size, and offset and size of each field, of a Rust mirror of `struct $c`.
macro_rules! layout {
    ($map:ident, $ty:ty, $c:literal, [$($field:ident),* $(,)?]) => {
        $map.insert(format!("sizeof {}", $c), size_of::<$ty>() as u64);
        $(
            $map.insert(
                format!("offsetof {}.{}", $c, stringify!($field)),
                offset_of!($ty, $field) as u64,
            );
            $map.insert(
                format!("fieldsize {}.{}", $c, stringify!($field)),
                field_size(|s: &$ty| &s.$field) as u64,
            );
        )*
    };
}

/// Size and signedness of a Rust mirror of `typedef … $c`.
macro_rules! typedef {
    ($map:ident, $ty:ty, $c:literal) => {
        $map.insert(format!("sizeof {}", $c), size_of::<$ty>() as u64);
        $map.insert(
            format!("signed {}", $c),
            u64::from(<$ty>::try_from(-1i8).is_ok()),
        );
    };
}

/// A Rust constant `abi::X` mirroring `HIKE_X`.
macro_rules! constants {
    ($map:ident, [$($name:ident),* $(,)?]) => {
        $( $map.insert(concat!("HIKE_", stringify!($name)).to_string(), abi::$name as u64); )*
    };
}

/// Everything the Rust mirror says, keyed as the probe prints it.
fn rust_mirror() -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    constants!(
        m,
        [
            ABI_VERSION,
            MAX_CHAIN_INSNS,
            MAX_FRAMES,
            STACK_SIZE,
            STACK_SLOTS,
            MAX_ARGS,
            MAX_CHAINS,
            MAX_PROGS,
            CODE_HEAP_INSNS,
            MAX_PROG_CALLS,
            DEFAULT_BUDGET,
            MAX_BUDGET,
            DISPATCH_SLOTS,
            DISPATCH_PER_HOOK,
            DISPATCH_LINKS,
            DISPATCH_MASK,
            DISPATCH_SLOT_SHIFT,
            DISPATCH_LEAVES,
            VERDICTS,
            CALL_HELPER,
            CALL_CHAIN,
            CALL_PROG,
            ADDR_STACK,
            ADDR_META,
            META_IPV4,
            META_IPV6,
            META_L4,
            META_FRAG,
            META_VLAN,
            CFG_STATS,
            CFG_TRACE,
            CFG_CLOCK,
            TRACE_MAX,
            TRACE_CHAIN,
            TRACE_CHAIN_RET,
            TRACE_PROG,
            TRACE_PROG_RET,
            TRACE_PROG_VERDICT,
            LDR_VERDICTS_SET,
            CHAIN_REF_NONE,
            EVENT_CHAIN,
            EVENT_PROGRAM,
            NO_ID,
            STATUS_IDLE,
            STATUS_RUNNING,
            STATUS_IN_PROG,
            STATUS_IN_PROG_COUNTED,
            STATUS_IN_PROG_TRACED,
            STATUS_RETURNED,
        ]
    );
    for h in Helper::ALL {
        m.insert(format!("HIKE_HELPER_{}", h.name().to_uppercase()), h as u64);
    }
    m.insert("HIKE_HELPER_MAX".into(), Helper::MAX.into());
    m.insert("HIKE_FAULT_NONE".into(), 0);
    for f in Fault::ALL {
        m.insert(format!("HIKE_FAULT_{}", f.name().to_uppercase()), f as u64);
    }
    m.insert("HIKE_FAULT_MAX".into(), Fault::MAX as u64);
    for a in XdpAction::ALL {
        m.insert(format!("XDP_{}", a.name().to_uppercase()), a as u64);
    }

    layout!(
        m,
        PktMeta,
        "hike_pkt_meta",
        [
            ingress_ifindex,
            rx_queue_index,
            eth_proto,
            l3_off,
            l4_off,
            l4_proto,
            flags,
            user
        ]
    );
    layout!(
        m,
        ChainDesc,
        "hike_chain_desc",
        [code_off, len, nparams, flags]
    );
    layout!(m, VmConfig, "hike_vm_config", [budget, flags, clock_ns]);
    layout!(m, ChainStats, "hike_chain_stats", [runs, faults]);
    layout!(m, ProgStats, "hike_prog_stats", [calls]);
    layout!(m, DispatchKey, "hike_dispatch_key", [ifindex, slot]);
    layout!(
        m,
        LoaderConfig,
        "hike_loader_config",
        [default_verdict, failsafe_verdict, flags, dispatch]
    );
    typedef!(m, ChainRef, "hike_chain_ref");
    layout!(
        m,
        Event,
        "hike_event",
        [kind, chain_id, prog_id, code, values, ts_ns]
    );
    layout!(
        m,
        TraceRec,
        "hike_trace_rec",
        [kind, depth, reserved, id, v]
    );
    layout!(
        m,
        Frame,
        "hike_frame",
        [saved_regs, stack_init, code_off, code_len, chain_id, ret_pc]
    );
    layout!(
        m,
        VmState,
        "hike_vm_state",
        [
            regs,
            pc,
            budget,
            prog_calls,
            prog_id,
            status,
            cfg_flags,
            depth,
            default_verdict,
            failsafe_verdict,
            fault,
            fault_pc,
            fault_chain,
            verdict,
            redirect_ifindex,
            code_off,
            code_len,
            dispatch,
            dispatch_pad,
            result,
            packets,
            meta,
            frames,
            stack,
            clock_ns,
            trace_len,
            trace_reserved,
            trace,
        ]
    );
    // The code heap has no Rust struct: user space sees it as `CODE_HEAP_INSNS` 8-byte words.
    let heap_bytes = abi::CODE_HEAP_INSNS as u64 * 8;
    m.insert("sizeof hike_code_heap".into(), heap_bytes);
    m.insert("offsetof hike_code_heap.insns".into(), 0);
    m.insert("fieldsize hike_code_heap.insns".into(), heap_bytes);
    m
}

#[test]
fn abi_agrees_with_c() {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf/include");
    let header_src =
        std::fs::read_to_string(include.join("hike/abi.h")).expect("read bpf/include/hike/abi.h");
    let header = parse_header(&header_src);
    let c = run_probe(&include, &probe_source(&header));
    let rust = rust_mirror();

    let mut problems = Vec::new();
    for (key, c_value) in &c {
        match rust.get(key) {
            None => problems.push(format!("`{key}` = {c_value} in C has no Rust mirror")),
            Some(r) if r != c_value => {
                problems.push(format!("`{key}`: C says {c_value}, Rust says {r}"))
            }
            Some(_) => {}
        }
    }
    for (key, r) in &rust {
        if !c.contains_key(key) {
            problems.push(format!("`{key}` = {r} in Rust is not in abi.h"));
        }
    }
    assert!(
        problems.is_empty(),
        "abi.rs disagrees with abi.h:\n{}",
        problems.join("\n")
    );
    // Guard against a parser that finds nothing: every item above was compared.
    assert_eq!(c.len(), rust.len());
}

#[test]
fn the_header_parser_finds_constants_enums_and_fields() {
    let header = parse_header(
        "/* c */\n#define HIKE_A 1 /* x */\n#define HIKE_F(x) x\n#define OTHER 2\n\
         enum hike_e { HIKE_E_ONE = 1, /* c */ HIKE_E_TWO, };\n\
         struct hike_s {\n\t__u32 a; // c\n\tstruct hike_t b[HIKE_A];\n};\nstruct hike_t x;\n\
         typedef __u32 hike_r;\ntypedef int other;\n",
    );
    assert_eq!(header.constants, ["HIKE_A", "HIKE_E_ONE", "HIKE_E_TWO"]);
    assert_eq!(
        header.structs,
        [("hike_s".to_string(), vec!["a".to_string(), "b".to_string()])]
    );
    assert_eq!(header.typedefs, ["hike_r"]);
}

/// The names `abi::vm_maps` and `abi::tags` give are the ones the headers declare.
#[test]
fn vm_map_names_and_sdk_tags_agree_with_the_headers() {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf/include/hike");
    let read = |name: &str| {
        std::fs::read_to_string(include.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let vm = read("vm.h");
    for name in abi::vm_maps::DECLARED {
        assert!(
            vm.contains(&format!("}} {name} SEC(\".maps\");")),
            "vm.h declares no map `{name}`"
        );
    }
    let ctx = read("ctx.h");
    let rename = format!("#define {} {}", abi::vm_maps::PROGS, abi::vm_maps::PROGS_TC);
    assert!(ctx.contains(&rename), "ctx.h has no `{rename}`");
    let code = format!(
        "{} SEC(\"{}\");",
        abi::vm_maps::CODE,
        abi::vm_maps::CODE_SECTION
    );
    assert!(vm.contains(&code), "vm.h has no `{code}`");
    let sdk = read("sdk.h");
    for tag in [abi::tags::PROG, abi::tags::PARAMS] {
        let decl = format!("btf_decl_tag(\"{tag}");
        assert!(sdk.contains(&decl), "sdk.h has no `{decl}`");
    }
    let decl = format!("btf_decl_tag(\"{}\")", abi::tags::LOADER);
    assert!(read("loader.h").contains(&decl), "loader.h has no `{decl}`");
    assert_eq!(
        abi::tags::params("hike_params:a, b,c"),
        Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()])
    );
    assert_eq!(abi::tags::params("hike_params:"), Some(vec![]));
    assert_eq!(abi::tags::params("hike_prog"), None);
}
