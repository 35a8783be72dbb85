//! The two sides `ddos_listing2` compares, set up and seen through one interface ([`Side`]):
//! the hand-written XDP program and its maps (`raw`), and Listing 2 in HIKe assembly on the
//! standard programs behind `basic.ip6_sc` (`hike`).

use anyhow::{bail, Context, Result};
use hike_isa::abi::Fault;
use hike_runtime::{Loader, MapRef};
use hike_testkit::listing2;
use hike_testkit::vm::{select_chain, PrivateVm};

use super::variants::CHAIN_ID;
use crate::measure::{timed, Timed};
use crate::raw::RawObject;

/// The maps of Listing 2, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2Map {
    Hset,
    HsetCfg,
    DstTb,
    DstTbCfg,
    SdTb,
    SdTbCfg,
    Dec2zero,
    Monitor,
}

impl L2Map {
    /// The maps of the state a run changes (not the configurations).
    pub const STATE: [L2Map; 5] = [
        L2Map::Hset,
        L2Map::DstTb,
        L2Map::SdTb,
        L2Map::Dec2zero,
        L2Map::Monitor,
    ];
}

/// What the checks need of a variant.
pub trait Side {
    /// The variant's name.
    fn name(&self) -> &'static str;
    /// Runs `packet` `repeat` times, timed.
    fn run(&self, packet: &[u8], repeat: u32) -> Result<Timed>;
    /// Writes `value` at `key` of `map` (not a per-CPU map).
    fn write(&self, map: L2Map, key: &[u8], value: &[u8]) -> Result<()>;
    /// Deletes every key of `map`.
    fn clear(&self, map: L2Map) -> Result<()>;
    /// Every key of `map`.
    fn keys(&self, map: L2Map) -> Result<Vec<Vec<u8>>>;
    /// The monitor's count of `event`, over all CPUs.
    fn monitor(&self, event: u64) -> Result<u64>;
}

/// The hand-written program, `bpf/bench/raw_ddos_listing2.bpf.c`.
pub struct Raw {
    /// Its object.
    pub obj: RawObject,
}

impl Raw {
    fn map_name(map: L2Map) -> &'static str {
        match map {
            L2Map::Hset => "raw_l2_hset",
            L2Map::HsetCfg => "raw_l2_hset_cfg",
            L2Map::DstTb => "raw_l2_dst_tb",
            L2Map::DstTbCfg => "raw_l2_dst_tb_cfg",
            L2Map::SdTb => "raw_l2_sd_tb",
            L2Map::SdTbCfg => "raw_l2_sd_tb_cfg",
            L2Map::Dec2zero => "raw_l2_dec2zero",
            L2Map::Monitor => "raw_l2_monitor",
        }
    }
}

impl Side for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn run(&self, packet: &[u8], repeat: u32) -> Result<Timed> {
        self.obj.test_run("raw_ddos_listing2", packet, repeat)
    }

    fn write(&self, map: L2Map, key: &[u8], value: &[u8]) -> Result<()> {
        self.obj.update(Raw::map_name(map), key, value)
    }

    fn clear(&self, map: L2Map) -> Result<()> {
        self.obj.clear(Raw::map_name(map))
    }

    fn keys(&self, map: L2Map) -> Result<Vec<Vec<u8>>> {
        self.obj.keys(Raw::map_name(map))
    }

    fn monitor(&self, event: u64) -> Result<u64> {
        Ok(self
            .obj
            .percpu_sum(Raw::map_name(L2Map::Monitor), &event.to_ne_bytes())?
            .map_or(0, |v| v[0]))
    }
}

/// Listing 2 on a private VM: the standard programs in slots 1, 2, … as
/// `hike_testkit::listing2` orders them, the chain, and `ip6_sc` selecting it.
pub struct Hike {
    // The fused program (the `fused` side), dropped first: it shares the VM's maps.
    fused: Option<Loader>,
    vm: PrivateVm,
    loader: Loader,
    cpu: usize,
}

impl Hike {
    /// Sets it up; the VM state read after each run is that of `cpu`, where the runs go.
    pub fn set_up(cpu: usize) -> Result<Hike> {
        Hike::set_up_in(cpu, false)
    }

    /// The `fused` side: the same in a VM of its own (its own maps, so that each side's
    /// counters are its own), packets running through the fused program of the chain, its
    /// programs and the loader, on those maps.
    pub fn set_up_fused(cpu: usize) -> Result<Hike> {
        Hike::set_up_in(cpu, true)
    }

    fn set_up_in(cpu: usize, fused: bool) -> Result<Hike> {
        let mut vm = PrivateVm::new()?;
        vm.configure_fast_path()?;
        vm.load_programs(1, &listing2::PROGRAMS)?;
        let code = vm
            .install(CHAIN_ID, listing2::CHAIN_ASM, 0)
            .context("install Listing 2")?;
        let loader = vm.load_loader("listing2", "ip6_sc")?;
        select_chain(&loader, listing2::SELECT_MAP, CHAIN_ID)?;
        let fused = if fused {
            Some(
                vm.load_fused("listing2_fused", &loader, &[(CHAIN_ID, code)])
                    .context("load Listing 2 fused")?,
            )
        } else {
            None
        };
        Ok(Hike {
            fused,
            vm,
            loader,
            cpu,
        })
    }

    fn map(&self, map: L2Map) -> Result<MapRef> {
        let (prog, name) = match map {
            L2Map::Hset => ("ip6_hset_srcdst", "ip6_hset_srcdst_map"),
            L2Map::HsetCfg => ("ip6_hset_srcdst", "ip6_hset_srcdst_cfg"),
            L2Map::DstTb => ("ip6_dst_tbmon", "ip6_dst_tbmon_map"),
            L2Map::DstTbCfg => ("ip6_dst_tbmon", "ip6_dst_tbmon_cfg"),
            L2Map::SdTb => ("ip6_sd_tbmon", "ip6_sd_tbmon_map"),
            L2Map::SdTbCfg => ("ip6_sd_tbmon", "ip6_sd_tbmon_cfg"),
            L2Map::Dec2zero => ("ip6_sd_dec2zero", "ip6_sd_dec2zero_map"),
            L2Map::Monitor => ("monitor", "monitor_map"),
        };
        Ok(self.vm.program_map(prog, name)?)
    }
}

impl Side for Hike {
    fn name(&self) -> &'static str {
        if self.fused.is_some() {
            "fused"
        } else {
            "hike"
        }
    }

    fn run(&self, packet: &[u8], repeat: u32) -> Result<Timed> {
        let entry = self.fused.as_ref().unwrap_or(&self.loader);
        let t = timed(repeat, || {
            let out = entry.test_run(packet, repeat)?;
            Ok((out.retval, out.duration_ns))
        })?;
        let st = self.vm.vm().vm_state(self.cpu)?;
        if st.fault != 0 {
            let f = Fault::from_code(st.fault).map_or("unknown", |f| f.name());
            bail!(
                "{}: Listing 2 faulted ({f}) at instruction {}",
                self.name(),
                st.fault_pc
            );
        }
        Ok(t)
    }

    fn write(&self, map: L2Map, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.map(map)?.update(key, value, Default::default())?)
    }

    fn clear(&self, map: L2Map) -> Result<()> {
        let m = self.map(map)?;
        for k in m.keys() {
            m.delete(&k)?;
        }
        Ok(())
    }

    fn keys(&self, map: L2Map) -> Result<Vec<Vec<u8>>> {
        Ok(self.map(map)?.keys())
    }

    fn monitor(&self, event: u64) -> Result<u64> {
        Ok(self
            .map(L2Map::Monitor)?
            .lookup(&event.to_ne_bytes())?
            .map_or(0, |v| {
                u64::from_ne_bytes(v[..8].try_into().expect("8 bytes"))
            }))
    }
}

#[cfg(test)]
mod tests {
    use hike_isa::asm::assemble;
    use hike_isa::Symbols;
    use hike_testkit::listing2;

    #[test]
    fn the_chain_assembles_with_its_programs() {
        let mut symbols = Symbols::new();
        for (i, p) in listing2::PROGRAMS.iter().enumerate() {
            symbols.add_prog(i as u32 + 1, *p);
        }
        let code = assemble(listing2::CHAIN_ASM)
            .unwrap()
            .link(&symbols)
            .unwrap();
        assert_eq!(code.len(), 33);
    }
}
