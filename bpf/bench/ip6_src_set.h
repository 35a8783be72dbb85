/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The blacklist of IPv6 sources of the ddos_mark benchmark, shared by its two eBPF variants so
 * that they use the same map: ip6_src_in_set.bpf.c (the HIKe program) and raw_ddos_mark.bpf.c
 * (the raw baseline). Each object gets its own instance; the benchmark fills both alike.
 *
 * Contract:
 * - ip6_src_in_set_map: HASH, key struct in6_addr (the source address as on the wire) ->
 *   struct ip6_src_set_entry. A source is in the set iff its key is present; the value is not
 *   read by the data path.
 * - User space fills the set; the data path only looks up (it never adds), so a plain hash is
 *   enough: no flood of new keys can fill it, unlike the flow-keyed LRU maps of the standard
 *   programs.
 * - Plain C and libbpf only (no HIKe header): the raw baseline must share nothing with the VM.
 * - The hash has the zero seed (BPF_F_ZERO_SEED, root only), so that every instance filled alike
 *   has the same buckets: a packet's lookup walks the same chain in the raw map as in the HIKe
 *   one. With the kernel's random seed per map, a packet of the mix whose bucket happened to be
 *   shared in one map and not in the other added a bucket walk and a key compare (several ns)
 *   to one variant only, a different one at each run.
 */
#pragma once

#include <linux/bpf.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>

#ifndef IP6_SRC_SET_MAX_ENTRIES
#define IP6_SRC_SET_MAX_ENTRIES 65536
#endif

struct ip6_src_set_entry {
	__u32 flags; /* unused by the data path; user space writes 1 */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IP6_SRC_SET_MAX_ENTRIES);
	__uint(map_flags, BPF_F_ZERO_SEED);
	__type(key, struct in6_addr);
	__type(value, struct ip6_src_set_entry);
} ip6_src_in_set_map SEC(".maps");
