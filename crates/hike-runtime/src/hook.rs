//! The hooks a loader attaches to (`xdp`, `tc_ingress`, `tc_egress`), the program context
//! each needs, and where a TC attachment goes among the hook's other programs.
//!
//! An object is built once per context (`hike_bpf::Context`; `bpf/include/hike/ctx.h`): an
//! XDP program for `xdp`, a `sched_cls` program for both TC hooks. This module only names
//! things; attaching is [`Loader`](crate::Loader)'s job.

use std::fmt;
use std::str::FromStr;

use libbpf_rs::libbpf_sys;

/// Where packets meet a loader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// XDP: in the driver, before the stack (an XDP link).
    #[default]
    Xdp,
    /// TC ingress: after the stack made an skb of the frame (a tcx link, `BPF_TCX_INGRESS`).
    TcIngress,
    /// TC egress: packets leaving the interface, the host's own included (a tcx link,
    /// `BPF_TCX_EGRESS`).
    TcEgress,
}

impl Hook {
    /// Every hook.
    pub const ALL: [Hook; 3] = [Hook::Xdp, Hook::TcIngress, Hook::TcEgress];

    /// The hook's name, as scripts (`loader.attach(DEV, HOOK)`) and the CLI write it.
    pub const fn name(self) -> &'static str {
        match self {
            Hook::Xdp => "xdp",
            Hook::TcIngress => "tc_ingress",
            Hook::TcEgress => "tc_egress",
        }
    }

    /// The hook called `name`, if any.
    pub fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.name() == name)
    }

    /// The program context a loader needs at this hook.
    pub const fn context(self) -> ProgContext {
        match self {
            Hook::Xdp => ProgContext::Xdp,
            Hook::TcIngress | Hook::TcEgress => ProgContext::Tc,
        }
    }

    /// The tcx attach type of a TC hook.
    pub(crate) fn tcx_attach_type(self) -> Option<libbpf_sys::bpf_attach_type> {
        match self {
            Hook::Xdp => None,
            Hook::TcIngress => Some(libbpf_sys::BPF_TCX_INGRESS),
            Hook::TcEgress => Some(libbpf_sys::BPF_TCX_EGRESS),
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a hook.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown hook `{0}` (hooks: xdp, tc_ingress, tc_egress)")]
pub struct UnknownHook(pub String);

impl FromStr for Hook {
    type Err = UnknownHook;

    fn from_str(s: &str) -> Result<Hook, UnknownHook> {
        Hook::from_name(s).ok_or_else(|| UnknownHook(s.to_owned()))
    }
}

/// The context a program is built for and loaded as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProgContext {
    /// `BPF_PROG_TYPE_XDP`, `struct xdp_md`.
    Xdp,
    /// `BPF_PROG_TYPE_SCHED_CLS`, `struct __sk_buff`.
    Tc,
}

impl ProgContext {
    /// The context of a kernel program type, if it is one a HIKe object is built as.
    pub(crate) fn from_prog_type(t: u32) -> Option<ProgContext> {
        match t {
            libbpf_sys::BPF_PROG_TYPE_XDP => Some(ProgContext::Xdp),
            libbpf_sys::BPF_PROG_TYPE_SCHED_CLS => Some(ProgContext::Tc),
            _ => None,
        }
    }
}

impl fmt::Display for ProgContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProgContext::Xdp => "xdp",
            ProgContext::Tc => "tc (sched_cls)",
        })
    }
}

/// One attachment of a loader: an interface and a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attachment {
    /// The interface.
    pub ifindex: u32,
    /// The hook.
    pub hook: Hook,
}

impl Attachment {
    /// The XDP attachment to `ifindex`.
    pub const fn xdp(ifindex: u32) -> Attachment {
        Attachment {
            ifindex,
            hook: Hook::Xdp,
        }
    }

    /// The name of the attachment's link pin under a loader's `links/`: the ifindex for XDP
    /// (as before TC existed, so older pins stay valid), `IFINDEX-HOOK` for TC (bpffs refuses
    /// a dot in a name).
    pub(crate) fn pin_name(self) -> String {
        match self.hook {
            Hook::Xdp => self.ifindex.to_string(),
            hook => format!("{}-{hook}", self.ifindex),
        }
    }

    /// The attachment a pin name designates.
    pub(crate) fn from_pin_name(name: &str) -> Option<Attachment> {
        let (ifindex, hook) = match name.split_once('-') {
            Some((i, h)) => (i, Hook::from_name(h).filter(|h| *h != Hook::Xdp)?),
            None => (name, Hook::Xdp),
        };
        Some(Attachment {
            ifindex: ifindex.parse().ok()?,
            hook,
        })
    }
}

impl fmt::Display for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interface {} at {}", self.ifindex, self.hook)
    }
}

/// Where a TC attachment goes among the programs already attached to the same hook (tcx runs
/// them in order; the first verdict other than `TCX_NEXT` ends the packet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TcPlacement {
    /// Before every program attached there now (`BPF_F_BEFORE`, no relative program).
    #[default]
    First,
    /// After every program attached there now (`BPF_F_AFTER`, no relative program).
    Last,
    /// Just before the attached program with this ID (`BPF_F_BEFORE | BPF_F_ID`): how a
    /// daemon keeps several scripts of one hook in their order.
    Before(u32),
    /// Just after the attached program with this ID (`BPF_F_AFTER | BPF_F_ID`).
    After(u32),
}

impl TcPlacement {
    /// The placement's name, as the CLI writes it (`first`, `last`, `before program 42`).
    pub fn name(self) -> String {
        match self {
            TcPlacement::First => "first".into(),
            TcPlacement::Last => "last".into(),
            TcPlacement::Before(id) => format!("before program {id}"),
            TcPlacement::After(id) => format!("after program {id}"),
        }
    }

    /// The placement called `name` (`first` or `last`), if any.
    pub fn from_name(name: &str) -> Option<TcPlacement> {
        match name {
            "first" => Some(TcPlacement::First),
            "last" => Some(TcPlacement::Last),
            _ => None,
        }
    }

    /// The link's flags and the relative program's ID (0: none).
    pub(crate) fn link_flags(self) -> (u32, u32) {
        match self {
            TcPlacement::First => (libbpf_sys::BPF_F_BEFORE, 0),
            TcPlacement::Last => (libbpf_sys::BPF_F_AFTER, 0),
            TcPlacement::Before(id) => (libbpf_sys::BPF_F_BEFORE | libbpf_sys::BPF_F_ID, id),
            TcPlacement::After(id) => (libbpf_sys::BPF_F_AFTER | libbpf_sys::BPF_F_ID, id),
        }
    }
}

impl fmt::Display for TcPlacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_names_round_trip_and_xdp_keeps_the_old_name() {
        for hook in Hook::ALL {
            let a = Attachment { ifindex: 7, hook };
            assert_eq!(Attachment::from_pin_name(&a.pin_name()), Some(a));
        }
        assert_eq!(Attachment::xdp(7).pin_name(), "7");
        assert_eq!(Attachment::from_pin_name("7-xdp"), None);
        assert_eq!(Attachment::from_pin_name("x-tc_egress"), None);
        assert_eq!("tc_egress".parse::<Hook>(), Ok(Hook::TcEgress));
        assert!("tc"
            .parse::<Hook>()
            .unwrap_err()
            .to_string()
            .contains("tc_ingress"));
    }
}
