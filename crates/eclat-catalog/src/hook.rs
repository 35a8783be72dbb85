//! The kernel hooks a program or loader works at, read from the ELF sections of its builds:
//! the catalog's answer to "where can I attach this", which `eclat describe` shows. Every
//! standard object is built for XDP (section `xdp`) and for TC (`-DHIKE_CTX_TC`, section `tc`,
//! `bpf/include/hike/ctx.h`): an XDP build works at `xdp`, a TC build at `tc_ingress` and
//! `tc_egress` (tcx takes a `sched_cls` program at either).

use std::fmt;

/// A kernel hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    /// XDP (`SEC("xdp")`, `xdp.frags`, …).
    Xdp,
    /// TC ingress (a `sched_cls` program: `SEC("tc")`, `tcx/ingress`, `classifier`).
    TcIngress,
    /// TC egress (the same programs).
    TcEgress,
}

impl Hook {
    /// Every hook, in the order `eclat describe` lists them.
    pub const ALL: [Hook; 3] = [Hook::Xdp, Hook::TcIngress, Hook::TcEgress];

    /// The hooks a program in ELF section `section` works at (none if a chain cannot run
    /// there).
    pub fn of_section(section: &str) -> &'static [Hook] {
        let kind = section.split(['/', '.']).next().unwrap_or_default();
        match kind {
            "xdp" => &[Hook::Xdp],
            "tc" | "tcx" | "classifier" => &[Hook::TcIngress, Hook::TcEgress],
            _ => &[],
        }
    }

    /// Its name as `attach` takes it (`xdp`, `tc_ingress`, `tc_egress`).
    pub fn name(self) -> &'static str {
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

    /// Whether it is a TC hook (the objects built for TC).
    pub fn is_tc(self) -> bool {
        self != Hook::Xdp
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_name_hooks() {
        assert_eq!(Hook::of_section("xdp"), [Hook::Xdp]);
        assert_eq!(Hook::of_section("xdp.frags"), [Hook::Xdp]);
        assert_eq!(
            Hook::of_section("tcx/ingress"),
            [Hook::TcIngress, Hook::TcEgress]
        );
        assert_eq!(Hook::of_section("tc"), [Hook::TcIngress, Hook::TcEgress]);
        assert_eq!(Hook::of_section("kprobe/x"), []);
        for h in Hook::ALL {
            assert_eq!(Hook::from_name(h.name()), Some(h));
        }
    }
}
