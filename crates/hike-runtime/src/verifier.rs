//! A verifier refusal in a few lines: the instruction the verifier stopped at, its source
//! line, the verifier's message, the usual cause in one sentence, and where the whole log was
//! saved.
//!
//! libbpf loads the line info of `.BTF.ext` with the program (every object is compiled with
//! `-g`), so the kernel's log (level 1) precedes each instruction's first appearance with a
//! `; SOURCE @ FILE:LINE` line; the summary takes the last one before the failing instruction.
//! This module only reads the log text and writes it to a file; it makes no BPF call.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a verifier log says went wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The index of the instruction the verifier refused, and its text (`r3 = *(u8 *)(r1 +20)`).
    pub insn: Option<(usize, String)>,
    /// The source of that instruction (`HIKE_RETURN(data[20]);`) and where it is
    /// (`peek.bpf.c:8`), from the line info.
    pub source: Option<(String, String)>,
    /// The verifier's message, its lines joined with `; `.
    pub message: String,
    /// The usual cause of that message, in one sentence, when it is a well-known one.
    pub cause: Option<&'static str>,
}

/// Lines of the message kept (the verifier sometimes explains on a second line).
const MESSAGE_LINES: usize = 3;

impl Summary {
    /// Reads a verifier log (level 1, as libbpf retries a failed load with).
    pub fn from_log(log: &str) -> Summary {
        let lines: Vec<&str> = log.lines().collect();
        let failing = lines.iter().rposition(|l| insn_line(l).is_some());
        let after = failing.map_or(0, |i| i + 1);
        let message: Vec<&str> = lines[after..]
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !is_statistics(l))
            .take(MESSAGE_LINES)
            .collect();
        let message = if message.is_empty() {
            // Nothing after the last instruction: the last line that says anything.
            lines
                .iter()
                .rev()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .unwrap_or_default()
                .to_owned()
        } else {
            message.join("; ")
        };
        let insn = failing.and_then(|i| insn_line(lines[i]));
        let source = failing.and_then(|i| {
            lines[..i]
                .iter()
                .rev()
                .find_map(|l| l.strip_prefix("; "))
                .map(|s| match s.rsplit_once(" @ ") {
                    Some((text, at)) => (text.trim().to_owned(), at.trim().to_owned()),
                    None => (s.trim().to_owned(), String::new()),
                })
        });
        let cause = usual_cause(&message);
        Summary {
            insn,
            source,
            message,
            cause,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.insn {
            Some((index, text)) => write!(f, "instruction {index} (`{text}`)")?,
            None => f.write_str("the program")?,
        }
        // The line's text is empty when clang could not read the file a `#line` names (a
        // fused script compiled from a copy of the user's file).
        match &self.source {
            Some((text, at)) if at.is_empty() && !text.is_empty() => write!(f, " from `{text}`")?,
            Some((text, at)) if text.is_empty() && !at.is_empty() => write!(f, " at {at}")?,
            Some((text, at)) if !at.is_empty() => write!(f, " at {at} (`{text}`)")?,
            _ => {}
        }
        write!(f, ": {}", self.message)?;
        if let Some(cause) = self.cause {
            write!(f, "\nusual cause: {cause}")?;
        }
        Ok(())
    }
}

/// `24: (71) r3 = *(u8 *)(r1 +20)  ; R1=...` → (24, `r3 = *(u8 *)(r1 +20)`).
fn insn_line(line: &str) -> Option<(usize, String)> {
    let (index, rest) = line.split_once(": (")?;
    let index = index.parse().ok()?;
    let (_opcode, text) = rest.split_once(") ")?;
    let text = text.split(" ; ").next().unwrap_or(text).trim();
    Some((index, text.to_owned()))
}

/// The verifier's closing statistics, not part of the message.
fn is_statistics(line: &str) -> bool {
    [
        "processed ",
        "verification time",
        "stack depth",
        "-- END PROG LOAD LOG --",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

/// The usual cause of a verifier message.
fn usual_cause(message: &str) -> Option<&'static str> {
    const CAUSES: &[(&str, &str)] = &[
        (
            "invalid access to packet",
            "a packet read or write without a bounds check: compare the end of the access with \
             `ctx->data_end` first (or use the bounds-checked helpers of `hike/net.h`)",
        ),
        (
            "outside of the packet",
            "a packet read or write without a bounds check: compare the end of the access with \
             `ctx->data_end` first (or use the bounds-checked helpers of `hike/net.h`)",
        ),
        (
            "!read_ok",
            "a register read before it was written: an uninitialised variable, or a value kept \
             in r1-r5 across a call, which clobbers them",
        ),
        (
            "or_null",
            "a map lookup's result used without checking it for NULL",
        ),
        (
            "invalid mem access 'scalar'",
            "a number used as a pointer: often a map lookup's result used without checking it \
             for NULL, or a pointer lost through arithmetic",
        ),
        (
            "back-edge",
            "a loop the verifier cannot bound: give it a constant trip count, or use `bpf_loop`",
        ),
        (
            "infinite loop",
            "a loop the verifier cannot bound: give it a constant trip count, or use `bpf_loop`",
        ),
        (
            "too large",
            "too many instructions to verify: split the program, or bound its loops more \
             tightly (the verifier explores at most 1 million instructions)",
        ),
        (
            "too complex",
            "too many instructions to verify: split the program, or bound its loops more \
             tightly (the verifier explores at most 1 million instructions)",
        ),
        (
            "invalid access to map value",
            "an access outside a map value: check the offset against the value's size",
        ),
        (
            "invalid indirect read from stack",
            "a stack buffer passed to a helper before every byte of it was written: zero it \
             first",
        ),
        (
            "unreachable insn",
            "instructions that no path reaches: a jump lands in the wrong place, or code \
             follows an unconditional return",
        ),
        (
            "unknown func",
            "a helper this program type may not call (HIKe programs are XDP programs)",
        ),
        (
            "R0 ",
            "the program's return value: every path must set it (`HIKE_RETURN(v)` or a verdict)",
        ),
    ];
    CAUSES
        .iter()
        .find(|(needle, _)| message.contains(needle))
        .map(|(_, cause)| *cause)
}

/// Saves a failed load's whole log to a new file (mode 0600) in `$HIKE_VERIFIER_LOG_DIR`, else
/// the temporary directory, and returns its path. The file is created new, so an existing file
/// or link of that name is never written through.
pub fn save_log(object: &str, program: &str, log: &str) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::var_os("HIKE_VERIFIER_LOG_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let plain = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut last = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(
            "hike-verifier-{}-{}-{}-{n}.log",
            plain(object),
            plain(program),
            std::process::id()
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(log.as_bytes())?;
                f.write_all(b"\n")?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free log file name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: &str = "\
0: R1=ctx() R10=fp0
; HIKE_PROG(peek) @ peek.bpf.c:3
0: (bf) r8 = r1                       ; R1=ctx() R8=ctx()
; unsigned char *data = (unsigned char *)(long)ctx->data; @ peek.bpf.c:5
23: (61) r1 = *(u32 *)(r8 +0)         ; R1=pkt(r=0) R8=ctx()
; HIKE_RETURN(data[20]); @ peek.bpf.c:8
24: (71) r3 = *(u8 *)(r1 +20)
invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0)
R1 offset is outside of the packet
processed 22 insns (limit 1000000) max_states_per_insn 0 total_states 2 peak_states 2 mark_read 0";

    #[test]
    fn a_packet_access_without_a_bounds_check() {
        let s = Summary::from_log(PACKET);
        assert_eq!(s.insn, Some((24, "r3 = *(u8 *)(r1 +20)".into())));
        assert_eq!(
            s.source,
            Some(("HIKE_RETURN(data[20]);".into(), "peek.bpf.c:8".into()))
        );
        assert_eq!(
            s.message,
            "invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0); R1 offset is outside \
             of the packet"
        );
        assert!(s.cause.unwrap().contains("bounds check"));
        assert!(s
            .to_string()
            .starts_with("instruction 24 (`r3 = *(u8 *)(r1 +20)`) at peek.bpf.c:8"));
    }

    #[test]
    fn a_log_without_instructions_gives_its_last_line() {
        let s = Summary::from_log("BPF program is too large. Processed 1000001 insn\n");
        assert_eq!(s.insn, None);
        assert_eq!(
            s.message,
            "BPF program is too large. Processed 1000001 insn"
        );
        assert!(s.cause.unwrap().contains("too many instructions"));
    }

    #[test]
    fn a_source_line_without_its_text_gives_its_place() {
        let log = ";  @ fz.eclat:7\n1337: (bc) w4 = w2\nBPF program is too large. Processed 1000001 insn\n";
        let s = Summary::from_log(log);
        assert_eq!(s.source, Some((String::new(), "fz.eclat:7".into())));
        assert!(
            s.to_string().starts_with(
                "instruction 1337 (`w4 = w2`) at fz.eclat:7: BPF program is too large"
            ),
            "{s}"
        );
    }

    #[test]
    fn an_unset_register() {
        let s = Summary::from_log("0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\n");
        assert_eq!(s.insn, Some((0, "exit".into())));
        assert_eq!(s.source, None);
        assert_eq!(s.message, "R0 !read_ok");
        assert!(s.cause.unwrap().contains("read before it was written"));
    }
}
