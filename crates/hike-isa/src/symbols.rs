//! Names of chains and programs, for the disassembler, the validator's messages and linking.
//!
//! Bytecode refers to chains and programs by ID only; names live in user space. A
//! [`Symbols`] table maps IDs to names and back so that `call prog 7` can be printed as
//! `call prog monitor` and `call prog monitor` can be resolved to ID 7
//! ([`crate::asm::Assembly::link`]).

use std::collections::BTreeMap;

/// A two-way table of chain and program names.
///
/// A name appears at most once per kind: adding a name again moves it to the new ID.
///
/// ```
/// use hike_isa::Symbols;
///
/// let mut symbols = Symbols::new();
/// symbols.add_prog(7, "monitor").add_chain(3, "ddos");
/// assert_eq!(symbols.prog_name(7), Some("monitor"));
/// assert_eq!(symbols.chain_id("ddos"), Some(3));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Symbols {
    chains: BTreeMap<u32, String>,
    progs: BTreeMap<u32, String>,
}

impl Symbols {
    /// An empty table.
    pub fn new() -> Symbols {
        Symbols::default()
    }

    /// Names chain `id`.
    pub fn add_chain(&mut self, id: u32, name: impl Into<String>) -> &mut Symbols {
        insert(&mut self.chains, id, name.into());
        self
    }

    /// Names program `id`.
    pub fn add_prog(&mut self, id: u32, name: impl Into<String>) -> &mut Symbols {
        insert(&mut self.progs, id, name.into());
        self
    }

    /// The name of chain `id`, if it has one.
    pub fn chain_name(&self, id: u32) -> Option<&str> {
        self.chains.get(&id).map(String::as_str)
    }

    /// The name of program `id`, if it has one.
    pub fn prog_name(&self, id: u32) -> Option<&str> {
        self.progs.get(&id).map(String::as_str)
    }

    /// The ID of the chain called `name`, if any.
    pub fn chain_id(&self, name: &str) -> Option<u32> {
        find(&self.chains, name)
    }

    /// The ID of the program called `name`, if any.
    pub fn prog_id(&self, name: &str) -> Option<u32> {
        find(&self.progs, name)
    }
}

fn insert(table: &mut BTreeMap<u32, String>, id: u32, name: String) {
    table.retain(|_, n| *n != name);
    table.insert(id, name);
}

fn find(table: &BTreeMap<u32, String>, name: &str) -> Option<u32> {
    table
        .iter()
        .find(|(_, n)| n.as_str() == name)
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renaming_moves_the_name() {
        let mut s = Symbols::new();
        s.add_chain(1, "a").add_chain(2, "a");
        assert_eq!(s.chain_name(1), None);
        assert_eq!(s.chain_id("a"), Some(2));
        assert_eq!(s.prog_id("a"), None);
    }
}
