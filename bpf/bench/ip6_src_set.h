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
	__type(key, struct in6_addr);
	__type(value, struct ip6_src_set_entry);
} ip6_src_in_set_map SEC(".maps");
