//! The kernel hooks a program or loader works at, read from its ELF section: the catalog's
//! answer to "where can I attach this", which `eclat describe` shows. Today every standard
//! object is XDP; a TC loader (section `tc`, `tcx/ingress`, `classifier`) would be listed as
//! `tc` without a change here.

use std::fmt;

/// A kernel hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    /// XDP (`SEC("xdp")`, `xdp.frags`, …).
    Xdp,
    /// The traffic-control classifier (`SEC("tc")`, `tcx/ingress`, `classifier`).
    Tc,
}

impl Hook {
    /// The hook of a program in ELF section `section`, if it is one a chain can run at.
    pub fn of_section(section: &str) -> Option<Hook> {
        let kind = section.split(['/', '.']).next().unwrap_or_default();
        match kind {
            "xdp" => Some(Hook::Xdp),
            "tc" | "tcx" | "classifier" => Some(Hook::Tc),
            _ => None,
        }
    }

    /// Its name as `attach` takes it (`xdp`, `tc`).
    pub fn name(self) -> &'static str {
        match self {
            Hook::Xdp => "xdp",
            Hook::Tc => "tc",
        }
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
        assert_eq!(Hook::of_section("xdp"), Some(Hook::Xdp));
        assert_eq!(Hook::of_section("xdp.frags"), Some(Hook::Xdp));
        assert_eq!(Hook::of_section("tcx/ingress"), Some(Hook::Tc));
        assert_eq!(Hook::of_section("classifier"), Some(Hook::Tc));
        assert_eq!(Hook::of_section("kprobe/x"), None);
    }
}
