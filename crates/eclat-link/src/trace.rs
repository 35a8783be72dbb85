//! What one packet did, explained: the ordered call trace the kernel VM records with
//! `HIKE_CFG_TRACE` (every chain entered, program called, and what each returned), decoded
//! with the script's names and parameter names, and the cause of the packet's verdict.
//!
//! Decoding only: the records are written by the VM (`bpf/include/hike/vm.h`, `sdk.h`) into the
//! per-CPU state, which [`crate::Runner`] reads back after each packet. This module makes no
//! syscall and knows nothing of how the packet was run.

use hike_isa::abi::{
    TraceRec, VmState, STATUS_RETURNED, TRACE_CHAIN, TRACE_CHAIN_RET, TRACE_MAX, TRACE_PROG,
    TRACE_PROG_RET, TRACE_PROG_VERDICT,
};

/// What was called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callee {
    /// A chain (the top chain the loader booted, or one a chain called), by name (`#ID` if it
    /// is not one of the script's).
    Chain(String),
    /// A program, by name (`#ID` if it is not one of the script's).
    Program(String),
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    /// It returned this value to its caller (`r0`).
    Value(u64),
    /// A chain that returns no value (no `return VALUE`) returned: its `r0` is whatever its
    /// last call left, not a result.
    NoValue,
    /// A terminal program ended the packet with this verdict.
    Verdict(u32),
}

/// One call of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Nesting: 0 is the top chain, 1 what it calls, and so on.
    pub depth: u32,
    /// The chain or program.
    pub callee: Callee,
    /// The arguments by parameter name, as many as the callee declares.
    pub args: Vec<(String, u64)>,
    /// How it ended; `None` when it did not (the packet faulted, or a program below it ended
    /// the packet, or the trace was cut before its return).
    pub returned: Option<Returned>,
}

/// A packet's calls, in the order they were made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallTrace {
    /// The calls, in order.
    pub calls: Vec<Call>,
    /// When the VM's record was full: the number of calls it kept (later calls and returns
    /// are missing).
    pub truncated_after: Option<usize>,
}

/// Why the packet got its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The loader started no chain: its default verdict.
    NoChain,
    /// The top chain returned: the loader's default verdict.
    Returned {
        /// The top chain.
        chain: String,
        /// Its result (`r0`), if it is a chain that returns a value.
        value: Option<u64>,
    },
    /// A terminal program ended the packet with its verdict.
    Program {
        /// The program.
        name: String,
    },
    /// The chain faulted: the loader's fail-safe verdict (the fault is in
    /// [`crate::PacketRun::fault`]).
    Fault,
}

/// Names and parameter names of the script's chains and programs, by ID.
pub(crate) trait Names {
    /// Chain `id`'s name and parameter names.
    fn chain(&self, id: u32) -> Option<(&str, &[String])>;
    /// Whether chain `id` returns a value (a chain that is not the script's counts as one
    /// that does).
    fn returns_value(&self, id: u32) -> bool;
    /// Program `id`'s name and parameter names.
    fn program(&self, id: u32) -> Option<(&str, &[String])>;
}

/// The cause of the verdict of the packet whose final state is `st`.
pub(crate) fn cause(st: &VmState, booted: bool, names: &dyn Names) -> Cause {
    if !booted {
        return Cause::NoChain;
    }
    if st.fault != 0 {
        return Cause::Fault;
    }
    if st.status == STATUS_RETURNED {
        let top = st.frames[0].chain_id;
        return Cause::Returned {
            chain: chain_name(names, top),
            value: names.returns_value(top).then_some(st.result),
        };
    }
    Cause::Program {
        name: names
            .program(st.prog_id)
            .map_or_else(|| format!("#{}", st.prog_id), |(n, _)| n.to_owned()),
    }
}

fn chain_name(names: &dyn Names, id: u32) -> String {
    names
        .chain(id)
        .map_or_else(|| format!("#{id}"), |(n, _)| n.to_owned())
}

fn args(params: &[String], v: &[u64]) -> Vec<(String, u64)> {
    params.iter().cloned().zip(v.iter().copied()).collect()
}

/// Decodes the trace of the packet whose final state is `st` (run with `HIKE_CFG_TRACE`).
pub(crate) fn decode(st: &VmState, names: &dyn Names) -> CallTrace {
    let len = st.trace_len as usize;
    let kept: &[TraceRec] = &st.trace[..len.min(TRACE_MAX)];
    let mut calls: Vec<Call> = Vec::new();
    // Indices of the calls not yet returned, innermost last.
    let mut open: Vec<usize> = Vec::new();
    for r in kept {
        let depth = u32::from(r.depth);
        match r.kind {
            TRACE_CHAIN => {
                let (name, params) = names.chain(r.id).map_or_else(
                    || (format!("#{}", r.id), &[][..]),
                    |(n, p)| (n.to_owned(), p),
                );
                open.push(calls.len());
                calls.push(Call {
                    depth,
                    callee: Callee::Chain(name),
                    args: args(params, &r.v),
                    returned: None,
                });
            }
            TRACE_PROG => {
                let (name, params) = names.program(r.id).map_or_else(
                    || (format!("#{}", r.id), &[][..]),
                    |(n, p)| (n.to_owned(), p),
                );
                open.push(calls.len());
                calls.push(Call {
                    // A program runs one level below the chain that calls it.
                    depth: depth + 1,
                    callee: Callee::Program(name),
                    args: args(params, &r.v),
                    returned: None,
                });
            }
            TRACE_CHAIN_RET | TRACE_PROG_RET | TRACE_PROG_VERDICT => {
                if let Some(i) = open.pop() {
                    calls[i].returned = Some(match r.kind {
                        TRACE_PROG_VERDICT => Returned::Verdict(r.v[0] as u32),
                        TRACE_CHAIN_RET if !names.returns_value(r.id) => Returned::NoValue,
                        _ => Returned::Value(r.v[0]),
                    });
                }
            }
            _ => {}
        }
    }
    // The top chain's return is not recorded: the state says it.
    if st.status == STATUS_RETURNED && st.fault == 0 {
        if let Some(top) = calls.first_mut().filter(|c| c.depth == 0) {
            top.returned = Some(if names.returns_value(st.frames[0].chain_id) {
                Returned::Value(st.result)
            } else {
                Returned::NoValue
            });
        }
    }
    CallTrace {
        truncated_after: (len > TRACE_MAX).then(|| {
            kept.iter()
                .filter(|r| r.kind == TRACE_CHAIN || r.kind == TRACE_PROG)
                .count()
        }),
        calls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytemuck::Zeroable;

    struct Table;

    impl Names for Table {
        fn chain(&self, id: u32) -> Option<(&str, &[String])> {
            static P: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            (id == 3).then(|| ("main", &P.get_or_init(|| vec!["a".into()])[..]))
        }
        fn returns_value(&self, id: u32) -> bool {
            id != 4
        }
        fn program(&self, id: u32) -> Option<(&str, &[String])> {
            static P: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            (id == 1).then(|| ("monitor", &P.get_or_init(|| vec!["event".into()])[..]))
        }
    }

    fn rec(kind: u8, depth: u8, id: u32, v0: u64) -> TraceRec {
        TraceRec {
            kind,
            depth,
            id,
            v: [v0, 9, 9, 9, 9],
            ..TraceRec::default()
        }
    }

    #[test]
    fn calls_nest_and_take_their_declared_arguments() {
        let mut st = VmState::zeroed();
        let recs = [
            rec(TRACE_CHAIN, 0, 3, 5),
            rec(TRACE_PROG, 0, 1, 2),
            rec(TRACE_PROG_RET, 0, 1, 0),
            rec(TRACE_PROG, 0, 7, 1),
            rec(TRACE_PROG_VERDICT, 0, 7, 1),
        ];
        st.trace[..recs.len()].copy_from_slice(&recs);
        st.trace_len = recs.len() as u32;
        let t = decode(&st, &Table);
        assert_eq!(t.truncated_after, None);
        assert_eq!(
            t.calls,
            [
                Call {
                    depth: 0,
                    callee: Callee::Chain("main".into()),
                    args: vec![("a".into(), 5)],
                    returned: None,
                },
                Call {
                    depth: 1,
                    callee: Callee::Program("monitor".into()),
                    args: vec![("event".into(), 2)],
                    returned: Some(Returned::Value(0)),
                },
                Call {
                    depth: 1,
                    callee: Callee::Program("#7".into()),
                    args: vec![],
                    returned: Some(Returned::Verdict(1)),
                },
            ]
        );
        st.prog_id = 7;
        assert_eq!(
            cause(&st, true, &Table),
            Cause::Program { name: "#7".into() }
        );
        assert_eq!(cause(&st, false, &Table), Cause::NoChain);
    }

    #[test]
    fn a_full_record_says_where_it_was_cut() {
        let mut st = VmState::zeroed();
        for (i, r) in st.trace.iter_mut().enumerate() {
            *r = if i % 2 == 0 {
                rec(TRACE_PROG, 0, 1, 0)
            } else {
                rec(TRACE_PROG_RET, 0, 1, 0)
            };
        }
        st.trace_len = TRACE_MAX as u32 + 10;
        let t = decode(&st, &Table);
        assert_eq!(t.truncated_after, Some(TRACE_MAX / 2));
        assert_eq!(t.calls.len(), TRACE_MAX / 2);
    }

    #[test]
    fn the_top_chain_return_comes_from_the_state() {
        let mut st = VmState::zeroed();
        st.trace[0] = rec(TRACE_CHAIN, 0, 3, 0);
        st.trace_len = 1;
        st.status = STATUS_RETURNED;
        st.result = 42;
        st.frames[0].chain_id = 3;
        let t = decode(&st, &Table);
        assert_eq!(t.calls[0].returned, Some(Returned::Value(42)));
        assert_eq!(
            cause(&st, true, &Table),
            Cause::Returned {
                chain: "main".into(),
                value: Some(42)
            }
        );
        // A chain that returns no value: no result.
        st.frames[0].chain_id = 4;
        st.trace[0].id = 4;
        assert_eq!(
            decode(&st, &Table).calls[0].returned,
            Some(Returned::NoValue)
        );
        assert_eq!(
            cause(&st, true, &Table),
            Cause::Returned {
                chain: "#4".into(),
                value: None
            }
        );
        st.fault = 4;
        assert_eq!(cause(&st, true, &Table), Cause::Fault);
    }
}
