//! The `ipset` variant of `ddos_mark`: no XDP program of its own; the router's kernel forwards
//! and an ip6tables mangle rule marks, with the blacklist in an `ipset` of type `hash:ip`.

use anyhow::{Context, Result};
use hike_netlab::RouterLab;

use super::variants::{blacklisted, BLACKLIST_LEN};

/// The ipset variant's configuration of the router: the set and the mangle rule.
pub fn set_up_ipset(lab: &RouterLab) -> Result<&'static str> {
    // The legacy backend when there is one: the classic netfilter path of the paper's time.
    let iptables = if hike_netlab::have("ip6tables-legacy") {
        "ip6tables-legacy"
    } else {
        "ip6tables"
    };
    let mut restore =
        String::from("create hkbl hash:ip family inet6 hashsize 1024 maxelem 65536\n");
    for i in 0..BLACKLIST_LEN {
        restore.push_str(&format!("add hkbl {}\n", blacklisted(i)));
    }
    lab.router
        .exec_with_input("ipset", &["restore"], &restore)
        .context("create the ipset")?;
    lab.router
        .exec(
            iptables,
            &[
                "-t",
                "mangle",
                "-A",
                "PREROUTING",
                "-m",
                "set",
                "--match-set",
                "hkbl",
                "src",
                "-j",
                "TOS",
                "--set-tos",
                "0x01/0xff",
            ],
        )
        .context("add the mangle rule")?;
    Ok(iptables)
}
