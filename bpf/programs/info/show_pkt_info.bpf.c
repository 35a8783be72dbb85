// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * show_pkt_info(layers, user_info) -> 0: reports the packet as events (hike_emit) that eclat
 * trace or the daemon's log shows: a summary with `user_info`, then the headers selected by the
 * bits of `layers` (1 L2, 2 L3, 4 L4) that the packet has, in that order. show_pkt_info.h lists
 * the events and how their values are packed. A selected layer the packet lacks (L3 of an ARP
 * frame) is left out; nothing else changes. Events are dropped, not waited for, when the ring is
 * full.
 */
#include <hike/net.h>

#include "show_pkt_info.h"

static __always_inline __u64 mac48(const __u8 *m)
{
	return ((__u64)m[0] << 40) | ((__u64)m[1] << 32) | ((__u64)m[2] << 24) |
	       ((__u64)m[3] << 16) | ((__u64)m[4] << 8) | (__u64)m[5];
}

/* Bits 127..64 and 63..0 of an IPv6 address, as numbers. */
static __always_inline __u64 in6_hi(const struct in6_addr *a)
{
	return ((__u64)bpf_ntohl(a->in6_u.u6_addr32[0]) << 32) | bpf_ntohl(a->in6_u.u6_addr32[1]);
}

static __always_inline __u64 in6_lo(const struct in6_addr *a)
{
	return ((__u64)bpf_ntohl(a->in6_u.u6_addr32[2]) << 32) | bpf_ntohl(a->in6_u.u6_addr32[3]);
}

static __always_inline void show_l3(struct xdp_md *ctx, const struct hike_pkt_meta *m)
{
	struct ipv6hdr *ip6;
	struct iphdr *ip4;
	__u64 c;

	ip4 = hike_ip4_m(ctx, m);
	if (ip4) {
		c = ip4->protocol | ((__u64)ip4->ttl << 8) | ((__u64)ip4->tos << 16) |
		    ((__u64)bpf_ntohs(ip4->tot_len) << 32);
		hike_emit(SHOW_PKT_INFO_EV_IPV4, bpf_ntohl(ip4->saddr), bpf_ntohl(ip4->daddr), c);
		return;
	}
	ip6 = hike_ip6_m(ctx, m);
	if (!ip6)
		return;
	/* Version(4) | traffic class(8) | flow label(20). */
	c = bpf_ntohl(*(__be32 *)ip6);
	hike_emit(SHOW_PKT_INFO_EV_IPV6, in6_hi(&ip6->saddr), in6_lo(&ip6->saddr),
		  m->l4_proto | ((__u64)ip6->hop_limit << 8) | (((c >> 20) & 0xff) << 16) |
			  ((__u64)bpf_ntohs(ip6->payload_len) << 32));
	hike_emit(SHOW_PKT_INFO_EV_IPV6_DST, in6_hi(&ip6->daddr), in6_lo(&ip6->daddr),
		  c & 0xfffff);
}

static __always_inline void show_l4(struct xdp_md *ctx, const struct hike_pkt_meta *m)
{
	struct tcphdr *tcp;
	__u8 *icmp; /* ICMP and ICMPv6 both start with type and code */
	struct udphdr *udp;
	__u64 b = 0, c = 0;

	if (!(m->flags & HIKE_META_L4))
		return;
	tcp = hike_l4_m(ctx, m, IPPROTO_TCP, sizeof(*tcp));
	udp = hike_l4_m(ctx, m, IPPROTO_UDP, sizeof(*udp));
	icmp = hike_l4_m(ctx, m, IPPROTO_ICMP, 4);
	if (!icmp)
		icmp = hike_l4_m(ctx, m, IPPROTO_ICMPV6, 4);
	if (tcp) {
		b = ((__u64)bpf_ntohs(tcp->source) << 16) | bpf_ntohs(tcp->dest);
		c = ((__u8 *)tcp)[13];
	} else if (udp) {
		b = ((__u64)bpf_ntohs(udp->source) << 16) | bpf_ntohs(udp->dest);
	} else if (icmp) {
		b = ((__u64)icmp[0] << 8) | icmp[1];
	}
	hike_emit(SHOW_PKT_INFO_EV_L4, m->l4_proto, b, c);
}

HIKE_PROG(show_pkt_info, layers, user_info)
{
	const struct hike_pkt_meta *m = hike_meta();
	__u64 len = ctx->data_end - ctx->data;
	struct ethhdr *eth;

	if (!m)
		HIKE_RETURN(0);
	hike_emit(SHOW_PKT_INFO_EV_SUMMARY, user_info, layers,
		  len | ((__u64)m->ingress_ifindex << 32));
	if (layers & SHOW_PKT_INFO_L2) {
		eth = hike_pkt_ptr(ctx, 0, sizeof(*eth));
		if (eth)
			hike_emit(SHOW_PKT_INFO_EV_ETH, mac48(eth->h_dest), mac48(eth->h_source),
				  bpf_ntohs(eth->h_proto));
	}
	if (layers & SHOW_PKT_INFO_L3)
		show_l3(ctx, m);
	if (layers & SHOW_PKT_INFO_L4)
		show_l4(ctx, m);
	HIKE_RETURN(0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
