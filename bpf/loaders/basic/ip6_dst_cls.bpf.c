// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loader basic.ip6_dst_cls: an IPv6 packet runs the chain that ip6_dst_cls_map associates with
 * its destination address; other packets, and IPv6 packets to a destination the map does not
 * hold, get the loader's default verdict (hike_loader_no_chain()).
 *
 * Map ip6_dst_cls_map: HASH, key struct in6_addr (16 bytes, as on the wire) -> u32 chain ID.
 */
#include <hike/loader.h>
#include <hike/net.h>

#ifndef IP6_DST_CLS_MAX_ENTRIES
#define IP6_DST_CLS_MAX_ENTRIES 1024
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IP6_DST_CLS_MAX_ENTRIES);
	__type(key, struct in6_addr);
	__type(value, __u32);
} ip6_dst_cls_map SEC(".maps");

HIKE_LOADER(ip6_dst_cls)
{
	__u64 args[HIKE_MAX_ARGS] = {};
	const struct hike_pkt_meta *meta = hike_loader_parse(ctx);
	struct ipv6hdr *ip6;
	struct in6_addr dst;
	__u32 *chain;

	if (!meta || !(meta->flags & HIKE_META_IPV6))
		return hike_loader_no_chain();
	/* Present whenever HIKE_META_IPV6 is set; the check is for the verifier. */
	ip6 = hike_loader_ip6(ctx, meta);
	if (!ip6)
		return hike_loader_no_chain();
	__builtin_memcpy(&dst, &ip6->daddr, sizeof(dst));
	chain = bpf_map_lookup_elem(&ip6_dst_cls_map, &dst);
	if (!chain)
		return hike_loader_no_chain();
	return hike_loader_boot(ctx, *chain, args);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
