// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loader basic.ip_sc: every IP packet, IPv4 and IPv6 alike, runs the chain that ip_sc_map
 * holds at key 0; other packets (ARP, anything the loader did not parse as IP), and every
 * packet while the map holds no chain, get the loader's default verdict (hike_loader_no_chain():
 * XDP_PASS unless hike_ldr_cfg says otherwise). A chain tells the families apart by what the
 * programs it calls return for the other one (HIKE_NOT_APPLICABLE, docs/stdlib.md).
 *
 * Map ip_sc_map: ARRAY[1], key u32 0 -> hike_chain_ref (abi.h: chain ID + 1, 0 for
 * "no chain", which is also what a new map holds). An array rather than a hash because the
 * verifier inlines an array lookup, where a hash lookup is a helper call (~30 ns per packet).
 * Scripts name the chain (`ip_sc[ip_sc_map] = { (0): (my_chain) }`); the map layouts of
 * crates/eclat-catalog add and remove the 1.
 */
#include <hike/loader.h>
#include <hike/net.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, hike_chain_ref);
} ip_sc_map SEC(".maps");

HIKE_LOADER(ip_sc)
{
	__u64 args[HIKE_MAX_ARGS] = {};
	const struct hike_pkt_meta *meta = hike_loader_parse(ctx);
	hike_chain_ref *ref;

	if (!meta || !(meta->flags & (HIKE_META_IPV4 | HIKE_META_IPV6)))
		return hike_loader_no_chain();
	ref = bpf_map_lookup_elem(&ip_sc_map, &hike_key0);
	return hike_loader_boot_ref(ctx, meta, ref, args);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
