// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip6_kroute(): terminal. Routes an IPv6 packet with the kernel's FIB (bpf_fib_lookup):
 * - forwarded (route and neighbour known): rewrites the Ethernet addresses, decrements the hop
 *   limit and redirects to the egress interface (XDP_REDIRECT through hike_redirect());
 * - blackhole, unreachable or prohibit route: XDP_DROP (the fast path sends no ICMPv6 error);
 * - everything the kernel must handle itself: XDP_PASS. That is: not IPv6, hop limit 1 or 0
 *   (Time Exceeded), a local or unroutable destination, forwarding disabled, no neighbour entry
 *   yet (the stack resolves it), a packet over the egress MTU (Packet Too Big), link-local
 *   addresses, tunnels.
 * ECMP routes are hashed on the flow: the L4 ports are passed when the loader found TCP or UDP.
 */
#include <hike/net.h>

#ifndef AF_INET6
#define AF_INET6 10
#endif

/* The 20-bit flow label and 8-bit traffic class of the first IPv6 word (network order). */
#define IP6_FLOWINFO_MASK bpf_htonl(0x0fffffff)

HIKE_PROG(ip6_kroute)
{
	struct bpf_fib_lookup fib = {};
	struct ipv6hdr *ip6 = hike_ip6(ctx);
	struct udphdr *ports;
	struct ethhdr *eth;
	long rc;

	if (!ip6 || ip6->hop_limit <= 1)
		return XDP_PASS;
	fib.family = AF_INET6;
	fib.flowinfo = *(__be32 *)ip6 & IP6_FLOWINFO_MASK;
	fib.l4_protocol = ip6->nexthdr;
	fib.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(struct ipv6hdr);
	fib.ifindex = ctx->ingress_ifindex;
	__builtin_memcpy(fib.ipv6_src, &ip6->saddr, sizeof(fib.ipv6_src));
	__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, sizeof(fib.ipv6_dst));
	/* TCP and UDP both start with the two ports. */
	ports = hike_l4(ctx, IPPROTO_UDP, 4);
	if (ports) {
		fib.l4_protocol = IPPROTO_UDP;
	} else {
		ports = hike_l4(ctx, IPPROTO_TCP, 4);
		if (ports)
			fib.l4_protocol = IPPROTO_TCP;
	}
	if (ports) {
		fib.sport = ports->source;
		fib.dport = ports->dest;
	}

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		/* The lookup may not move packet data, but the verifier forgets packet pointers
		 * across helper calls that could: find the headers again. */
		eth = hike_pkt_ptr(ctx, 0, sizeof(struct ethhdr));
		ip6 = hike_ip6(ctx);
		if (!eth || !ip6)
			return XDP_PASS;
		__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
		ip6->hop_limit--;
		return hike_redirect(fib.ifindex);
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
