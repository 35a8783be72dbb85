/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Listing 2 of the HIKe/eCLAT paper (`ddos_tb_2_lev`, examples/ddos_tb_2_lev.eclat) written as
 * HIKe chains in C, split into three chains: the main chain calls the two others.
 *
 * Every program and chain is called by name: no ID appears here. Compile and load with
 * `hike_cchains::load_hike_c_file`; the chains are linked against the programs' IDs when they
 * are installed. The test `crates/hike-cchains/tests/kernel.rs` runs this file on the kernel VM
 * with the standard programs behind the `basic.ip6_sc` loader.
 */
#include <hike/chain.h>

/* from programs.hike_default / meter / sampler import ... (name, parameter count) */
HIKE_PROG_EXTERN(hike_drop, 0);
HIKE_PROG_EXTERN(hike_pass, 0);
HIKE_PROG_EXTERN(ip6_hset_srcdst, 1);
HIKE_PROG_EXTERN(ip6_dst_tbmon, 0);
HIKE_PROG_EXTERN(ip6_sd_tbmon, 0);
HIKE_PROG_EXTERN(ip6_sd_dec2zero, 1);
HIKE_PROG_EXTERN(monitor, 1);
HIKE_PROG_EXTERN(l2_redirect, 1);

#define PASS 0
#define DROP 1
#define REDIRECT 2
#define ADD 1
#define LOOKUP 2
#define BLACKLISTED 0
#define IN_PROFILE 0

/* Counts `event` in monitor's map, then drops the packet (hike_drop ends it). */
HIKE_CHAIN(count_and_drop, event)
{
	monitor(event);
	hike_drop();
	return 0;
}

/* A blacklisted (src, dst) pair: one packet in `every` is redirected to `ifindex`, the others
 * are dropped. */
HIKE_CHAIN(sample_or_drop, every, ifindex)
{
	if (ip6_sd_dec2zero(every) == 0) {
		monitor(REDIRECT);
		l2_redirect(ifindex);
		return 0;
	}
	return count_and_drop(DROP);
}

HIKE_CHAIN(ddos_tb_2_lev)
{
	/* (src, dst) in the blacklist? */
	if (ip6_hset_srcdst(LOOKUP) == BLACKLISTED)
		return sample_or_drop(500, 6);

	/* Over the rate per destination, and per (src, dst) too: blacklist the pair. */
	if (ip6_dst_tbmon() != IN_PROFILE && ip6_sd_tbmon() != IN_PROFILE) {
		ip6_hset_srcdst(ADD);
		return count_and_drop(DROP);
	}

	monitor(PASS);
	hike_pass();
	return 0;
}
