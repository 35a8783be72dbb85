// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loader basic.ip4_sc: every IPv4 packet runs the chain that ipv4_sc_map holds at key 0;
 * other packets, and every packet while the map has no entry, get the loader's default verdict
 * (hike_loader_no_chain(): XDP_PASS unless hike_ldr_cfg says otherwise).
 *
 * Map ipv4_sc_map: HASH, key u32 0 -> u32 chain ID. A hash rather than an array, so
 * that "no chain" is the absence of the key (every chain ID, 0 included, is valid).
 */
#include <hike/loader.h>
#include <hike/net.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ipv4_sc_map SEC(".maps");

HIKE_LOADER(ip4_sc)
{
	__u64 args[HIKE_MAX_ARGS] = {};
	const struct hike_pkt_meta *meta = hike_loader_parse(ctx);
	__u32 zero = 0, *chain;

	if (!meta || !(meta->flags & HIKE_META_IPV4))
		return hike_loader_no_chain();
	chain = bpf_map_lookup_elem(&ipv4_sc_map, &zero);
	if (!chain)
		return hike_loader_no_chain();
	return hike_loader_boot(ctx, *chain, args);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
