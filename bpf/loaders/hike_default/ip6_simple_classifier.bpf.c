// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loader hike_default.ip6_simple_classifier: every IPv6 packet runs the chain that
 * ipv6_simple_classifier_map holds at key 0; other packets, and every packet while the map has
 * no entry, get the loader's default verdict (hike_loader_no_chain(): XDP_PASS unless
 * hike_ldr_cfg says otherwise). The same loader as basic.ip6_sc, under the original
 * prototype's other name.
 *
 * Map ipv6_simple_classifier_map: HASH, key u32 0 -> u32 chain ID. A hash rather than an
 * array, so that "no chain" is the absence of the key (every chain ID, 0 included, is valid).
 */
#include <hike/loader.h>
#include <hike/net.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ipv6_simple_classifier_map SEC(".maps");

HIKE_LOADER(ip6_simple_classifier)
{
	__u64 args[HIKE_MAX_ARGS] = {};
	const struct hike_pkt_meta *meta = hike_loader_parse(ctx);
	__u32 zero = 0, *chain;

	if (!meta || !(meta->flags & HIKE_META_IPV6))
		return hike_loader_no_chain();
	chain = bpf_map_lookup_elem(&ipv6_simple_classifier_map, &zero);
	if (!chain)
		return hike_loader_no_chain();
	return hike_loader_boot(ctx, *chain, args);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
