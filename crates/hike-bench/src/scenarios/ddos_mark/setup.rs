//! The set-up of `ddos_mark`'s HIKe side (`hike` and `eclat`: one private VM, the three
//! programs, the blacklist, the hand-written and the compiled chains, `basic.ip6_sc`), and the
//! check that every eBPF variant marks exactly the packets of blacklisted sources.

use anyhow::{bail, ensure, Context, Result};
use hike_isa::abi::xdp::PASS;
use hike_isa::abi::Fault;
use hike_runtime::Loader;
use hike_testkit::vm::{chain_id, select_chain, PrivateVm};

use super::eclat::compile_eclat;
use super::variants::{
    blacklist_entries, BLACKLISTED, ECLAT_MARK, ECLAT_MARK_FWD, HAND_CHAINS, HIKE_MARK,
    KROUTE_PROG, MARK, SET_PROG, TOS_PROG,
};
use crate::measure::{self, Mix};
use crate::raw::RawObject;

/// The HIKe side: one private VM with the three programs, the loader, and the hand-written and
/// compiled chains.
pub struct Hike {
    // Dropped first: they share the loader's and the programs' maps.
    fused: Loader,
    fused_fwd: Loader,
    vm: PrivateVm,
    loader: Loader,
    /// The compiled chains, disassembled, for the report.
    pub eclat_asm: String,
}

impl Hike {
    /// Sets it up, counters off and the default budget: the VM's fast path, as a production
    /// loader runs it.
    pub fn set_up() -> Result<Hike> {
        let mut vm = PrivateVm::new()?;
        vm.configure_fast_path()?;
        for (slot, name) in [
            (SET_PROG, "ip6_src_in_set"),
            (TOS_PROG, "ip6_set_tos"),
            (KROUTE_PROG, "ip6_kroute"),
        ] {
            vm.load_program(slot, name, name)?;
        }
        let set = vm.program_map("ip6_src_in_set", "ip6_src_in_set_map")?;
        for (k, v) in blacklist_entries() {
            set.update(&k, &v, Default::default())?;
        }
        for (id, name, text) in HAND_CHAINS {
            vm.install(id, text, 0)
                .with_context(|| format!("install `{name}`"))?;
        }
        let script = compile_eclat()?;
        let mut compiled = Vec::new();
        for (id, name) in [(ECLAT_MARK, "ddos_mark"), (ECLAT_MARK_FWD, "ddos_mark_fwd")] {
            let chain = script
                .chain(name)
                .with_context(|| format!("the eCLAT script has no chain `{name}`"))?;
            let code = chain
                .assembly
                .link(vm.symbols())
                .with_context(|| format!("link the compiled `{name}`"))?;
            vm.install_insns(id, &code, 0)
                .with_context(|| format!("install the compiled `{name}`"))?;
            compiled.push((id, code));
        }
        let loader = vm
            .load_loader("ddos_mark", "ip6_sc")
            .context("load the ip6_sc loader")?;
        // Each compiled chain fused with its programs and the loader, as a script of that one
        // chain: `fused` marks (against raw_ddos_mark, which only marks), `fused_fwd` marks and
        // forwards (against raw_ddos_mark_fwd). The same `ipv6_sc_map` selects the chain.
        let [mark, mark_fwd] = [0, 1].map(|i| std::slice::from_ref(&compiled[i]));
        let fused = vm
            .load_fused("ddos_mark_fused", &loader, mark)
            .context("load the fused program of `ddos_mark`")?;
        let fused_fwd = vm
            .load_fused("ddos_mark_fwd_fused", &loader, mark_fwd)
            .context("load the fused program of `ddos_mark_fwd`")?;
        Ok(Hike {
            fused,
            fused_fwd,
            vm,
            loader,
            eclat_asm: script.disassemble(),
        })
    }

    /// The `basic.ip6_sc` loader.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// The fused program of the compiled `ddos_mark`.
    pub fn fused(&self) -> &Loader {
        &self.fused
    }

    /// The fused program of the compiled `ddos_mark_fwd`.
    pub fn fused_fwd(&self) -> &Loader {
        &self.fused_fwd
    }

    /// Makes the loader run chain `chain` for every IPv6 packet.
    pub fn select(&self, chain: u32) -> Result<()> {
        select_chain(&self.loader, "ipv6_sc_map", chain).context("write `ipv6_sc_map`")
    }

    /// Instructions of an installed chain.
    pub fn chain_len(&self, chain: u32) -> usize {
        chain_id(chain)
            .ok()
            .and_then(|id| self.vm.vm().chain_code(id))
            .map_or(0, |c| c.len())
    }
}

/// Checks that `out` is `input` with the traffic class set to `tc` and nothing else changed.
fn check_marked(what: &str, input: &[u8], out: &[u8], tc: u8) -> Result<()> {
    let mut want = input.to_vec();
    want[14] = (want[14] & 0xf0) | (tc >> 4);
    want[15] = (want[15] & 0x0f) | (tc << 4);
    if out != want.as_slice() {
        bail!(
            "{what}: the packet came out as {out:02x?}, expected traffic class {tc} and no other \
             change: {want:02x?}"
        );
    }
    Ok(())
}

/// Runs every packet of the mix once through each eBPF variant and checks the bytes.
pub fn check_ns_variants(raw: &RawObject, hike: &Hike, mix: &Mix, cpu: usize) -> Result<()> {
    for (i, p) in mix.packets.iter().enumerate() {
        let tc = if p.class == BLACKLISTED { MARK } else { 0 };
        ensure!(
            measure::ipv6_traffic_class(&p.bytes) == 0,
            "the mix starts unmarked"
        );
        let (t, out) = raw.test_run_out("raw_ddos_mark", &p.bytes, 1)?;
        measure::check_verdict(t.verdict, &[PASS], &format!("raw, packet {i}"))?;
        check_marked(&format!("raw, packet {i}"), &p.bytes, &out, tc)?;
        for (variant, chain) in [("hike", HIKE_MARK), ("eclat", ECLAT_MARK)] {
            hike.select(chain)?;
            let run = hike.loader().test_run(&p.bytes, 1)?;
            let what = format!("{variant}, packet {i}");
            measure::check_verdict(run.retval, &[PASS], &what)?;
            let st = hike.vm.vm().vm_state(cpu)?;
            if st.fault != 0 {
                let f = Fault::from_code(st.fault).map_or("unknown", |f| f.name());
                bail!("{what}: the chain faulted ({f})");
            }
            check_marked(&what, &p.bytes, &run.data_out, tc)?;
        }
        hike.select(ECLAT_MARK)?;
        let run = hike.fused().test_run(&p.bytes, 1)?;
        let what = format!("fused, packet {i}");
        measure::check_verdict(run.retval, &[PASS], &what)?;
        check_marked(&what, &p.bytes, &run.data_out, tc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::variants::{blacklisted, clean};
    use super::*;

    #[test]
    fn a_marked_packet_differs_only_in_its_traffic_class() {
        let p = measure::ipv6_udp(clean(0), blacklisted(0));
        let mut m = p.clone();
        m[15] |= 0x10;
        check_marked("t", &p, &m, 1).unwrap();
        assert_eq!(measure::ipv6_traffic_class(&m), 1);
        assert!(check_marked("t", &p, &p, 1).is_err());
        assert!(check_marked("t", &p, &m, 0).is_err());
    }
}
