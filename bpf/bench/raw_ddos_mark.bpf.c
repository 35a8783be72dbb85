// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Baseline of the ddos_mark benchmark (the paper's "raw eBPF", section 7.3.1): one hand-written
 * XDP program that looks the IPv6 source address up in a blacklist and, if it is there, sets
 * the traffic class to 1. Same map type and key as the HIKe program ip6_src_in_set
 * (ip6_src_set.h).
 *
 * - raw_ddos_mark: marks, then XDP_PASS: the program cost alone (ns_per_packet).
 * - raw_ddos_mark_fwd: marks, then forwards like the HIKe program ip6_kroute (a router in
 *   XDP, for pps): bpf_fib_lookup(); on success rewrites the Ethernet addresses, decrements
 *   the hop limit and redirects to the egress interface; blackhole, unreachable and prohibit
 *   routes drop; everything else (hop limit <= 1, no neighbour, local destination, ...) is
 *   passed to the kernel. Same lookup parameters as ip6_kroute, so the same decisions.
 * - Not IPv6 (or a header cut short): XDP_PASS, nothing changed.
 *
 * Written as well as we can: one bounds check for Ethernet + IPv6, the key read in place
 * from the packet, the traffic class written with one 16-bit read-modify-write.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ip6_src_set.h"

#ifndef AF_INET6
#define AF_INET6 10
#endif

#define RAW_MARK_TC 1

/* The 20-bit flow label and 8-bit traffic class of the first IPv6 word (network order). */
#define IP6_FLOWINFO_MASK bpf_htonl(0x0fffffff)

/* The IPv6 header after the Ethernet header, or NULL. */
static __always_inline struct ipv6hdr *raw_ip6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if (data + sizeof(struct ethhdr) + sizeof(struct ipv6hdr) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6))
		return 0;
	return (struct ipv6hdr *)(eth + 1);
}

/* Sets the traffic class to RAW_MARK_TC if the source is blacklisted. */
static __always_inline void raw_mark(struct ipv6hdr *ip6)
{
	__be16 *w = (__be16 *)ip6;

	if (!bpf_map_lookup_elem(&ip6_src_in_set_map, &ip6->saddr))
		return;
	/* Version(4) | traffic class(8) | flow label(4 of 20): the class is bits 4..11. */
	*w = (*w & bpf_htons(0xf00f)) | bpf_htons(RAW_MARK_TC << 4);
}

SEC("xdp")
int raw_ddos_mark(struct xdp_md *ctx)
{
	struct ipv6hdr *ip6 = raw_ip6(ctx);

	if (ip6)
		raw_mark(ip6);
	return XDP_PASS;
}

SEC("xdp")
int raw_ddos_mark_fwd(struct xdp_md *ctx)
{
	struct bpf_fib_lookup fib = {};
	struct ipv6hdr *ip6 = raw_ip6(ctx);
	struct udphdr *ports;
	struct ethhdr *eth;
	long rc;

	if (!ip6)
		return XDP_PASS;
	raw_mark(ip6);
	if (ip6->hop_limit <= 1)
		return XDP_PASS;
	fib.family = AF_INET6;
	fib.flowinfo = *(__be32 *)ip6 & IP6_FLOWINFO_MASK;
	fib.l4_protocol = ip6->nexthdr;
	fib.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(struct ipv6hdr);
	fib.ifindex = ctx->ingress_ifindex;
	__builtin_memcpy(fib.ipv6_src, &ip6->saddr, sizeof(fib.ipv6_src));
	__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, sizeof(fib.ipv6_dst));
	/* TCP and UDP both start with the two ports (no extension header walk: the benchmark's
	 * traffic has none, and ip6_kroute finds the same ports for it). */
	if (ip6->nexthdr == IPPROTO_UDP || ip6->nexthdr == IPPROTO_TCP) {
		ports = (struct udphdr *)(ip6 + 1);
		if ((void *)ports + 4 <= (void *)(long)ctx->data_end) {
			fib.sport = ports->source;
			fib.dport = ports->dest;
		}
	}

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		/* The verifier forgets packet pointers across a helper call: find them again. */
		ip6 = raw_ip6(ctx);
		if (!ip6)
			return XDP_PASS;
		eth = (struct ethhdr *)ip6 - 1;
		__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
		ip6->hop_limit--;
		return bpf_redirect(fib.ifindex, 0);
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
