/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet helpers for HIKe programs and loaders: the IPv4/IPv6 and L4 headers that the loader
 * found, address keys, and incremental checksum updates.
 *
 * Contract:
 * - Programs locate headers with the loader's metadata (hike_meta(): flags, l3_off, l4_off,
 *   l4_proto) and never parse the packet again. Every accessor checks that the whole header
 *   lies before data_end and returns NULL otherwise, so a program never reads out of bounds,
 *   whatever the packet or the metadata say.
 * - Addresses and ports stay in network byte order inside keys (the bytes on the wire), so user
 *   space writes and reads map keys as they appear in the packet.
 * - HIKE_NOT_APPLICABLE (u64::MAX) is what a non-terminal program returns for a packet it does
 *   not apply to (an IPv6 program given IPv4 or ARP, a header cut short), and for an argument
 *   out of range.
 * - hike_loader_ip6()/hike_loader_ip4() are for loaders, which classify with the metadata
 *   hike_loader_parse() returned: they find a header exactly when hike_parse() (loader.h) sets
 *   HIKE_META_IPV6/HIKE_META_IPV4, at its L3 offset (so behind VLAN tags too).
 */
#pragma once

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "sdk.h"

/* Returned by a non-terminal program for a packet or argument it does not apply to. */
#define HIKE_NOT_APPLICABLE (~0ULL)

/* Header offsets from the metadata are masked with this before they are added to `data`: a
 * linear XDP frame is smaller than 16 KiB, so the mask changes no real offset, and it bounds
 * the pointer tightly enough for the verifier to accept the end-of-packet comparison after a
 * constant header length is added (an unmasked u16 offset plus 40 can exceed its 64 KiB limit). */
#define HIKE_PKT_OFF_MASK HIKE_CTX_PKT_OFF_MASK

/* IPv4 flags/fragment-offset field: the offset bits. */
#define HIKE_IP4_FRAG_OFFSET 0x1fff

/* An IPv6 source/destination pair, addresses as on the wire. */
struct hike_ip6_sd_key {
	struct in6_addr src;
	struct in6_addr dst;
};

/* An IPv6 destination, as on the wire. */
struct hike_ip6_dst_key {
	struct in6_addr dst;
};

/* An IPv4 source/destination pair, addresses as on the wire. */
struct hike_ip4_sd_key {
	__be32 src;
	__be32 dst;
};

/* An IPv4 destination, as on the wire. */
struct hike_ip4_dst_key {
	__be32 dst;
};

/* `len` bytes at packet offset `off`, or NULL if they do not all lie in the packet. Call it with
 * a constant `len` (after inlining), so the verifier learns the checked range. */
static __always_inline void *hike_pkt_ptr(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	void *p = data + (off & HIKE_PKT_OFF_MASK);

	if (p + len > end)
		return 0;
	return p;
}

/* The accessors below take the metadata `m` (hike_ip6_m(ctx, m)); their short forms
 * (hike_ip6(ctx)) are macros that pass hike_meta() where they are written, so that in a fused
 * build a program's body hands them its own metadata (sdk.h: hike_meta()). A helper function
 * of a program that reads headers takes the metadata as a parameter and calls the _m forms. */

/* The IPv6 header the loader found, or NULL if the packet is not IPv6. */
static __always_inline struct ipv6hdr *hike_ip6_m(struct xdp_md *ctx, const struct hike_pkt_meta *m)
{
	if (!m || !(m->flags & HIKE_META_IPV6))
		return 0;
	return hike_pkt_ptr(ctx, m->l3_off, sizeof(struct ipv6hdr));
}
#define hike_ip6(ctx) hike_ip6_m((ctx), hike_meta())

/* The IPv4 header the loader found (its fixed 20 bytes), or NULL if the packet is not IPv4. */
static __always_inline struct iphdr *hike_ip4_m(struct xdp_md *ctx, const struct hike_pkt_meta *m)
{
	if (!m || !(m->flags & HIKE_META_IPV4))
		return 0;
	return hike_pkt_ptr(ctx, m->l3_off, sizeof(struct iphdr));
}
#define hike_ip4(ctx) hike_ip4_m((ctx), hike_meta())

/* The first `len` bytes of the L4 header of protocol `proto` (IPPROTO_*), or NULL if the loader
 * found none, it is another protocol, it is cut short, or the packet is a non-first IPv4
 * fragment (whose "L4 header" is payload). A non-first IPv6 fragment cannot be told apart from
 * the metadata alone (the loader does not record the fragment header): see the SDK notes. */
static __always_inline void *hike_l4_m(struct xdp_md *ctx, const struct hike_pkt_meta *m, __u8 proto,
				       __u32 len)
{
	struct iphdr *ip4;

	if (!m || !(m->flags & HIKE_META_L4) || m->l4_proto != proto)
		return 0;
	if (m->flags & HIKE_META_IPV4) {
		ip4 = hike_pkt_ptr(ctx, m->l3_off, sizeof(struct iphdr));
		if (!ip4 || (ip4->frag_off & bpf_htons(HIKE_IP4_FRAG_OFFSET)))
			return 0;
	}
	return hike_pkt_ptr(ctx, m->l4_off, len);
}
#define hike_l4(ctx, proto, len) hike_l4_m((ctx), hike_meta(), (proto), (len))

/* Fills `key` from the IPv6 packet; returns 0, or -1 if the packet is not IPv6. */
static __always_inline int hike_ip6_sd_key_m(struct xdp_md *ctx, const struct hike_pkt_meta *m,
					     struct hike_ip6_sd_key *key)
{
	struct ipv6hdr *ip6 = hike_ip6_m(ctx, m);

	if (!ip6)
		return -1;
	__builtin_memcpy(&key->src, &ip6->saddr, sizeof(key->src));
	__builtin_memcpy(&key->dst, &ip6->daddr, sizeof(key->dst));
	return 0;
}
#define hike_ip6_sd_key(ctx, key) hike_ip6_sd_key_m((ctx), hike_meta(), (key))

/* Fills `key` from the IPv6 packet; returns 0, or -1 if the packet is not IPv6. */
static __always_inline int hike_ip6_dst_key_m(struct xdp_md *ctx, const struct hike_pkt_meta *m,
					      struct hike_ip6_dst_key *key)
{
	struct ipv6hdr *ip6 = hike_ip6_m(ctx, m);

	if (!ip6)
		return -1;
	__builtin_memcpy(&key->dst, &ip6->daddr, sizeof(key->dst));
	return 0;
}
#define hike_ip6_dst_key(ctx, key) hike_ip6_dst_key_m((ctx), hike_meta(), (key))

/* Fills `key` from the IPv4 packet; returns 0, or -1 if the packet is not IPv4. */
static __always_inline int hike_ip4_sd_key_m(struct xdp_md *ctx, const struct hike_pkt_meta *m,
					     struct hike_ip4_sd_key *key)
{
	struct iphdr *ip4 = hike_ip4_m(ctx, m);

	if (!ip4)
		return -1;
	key->src = ip4->saddr;
	key->dst = ip4->daddr;
	return 0;
}
#define hike_ip4_sd_key(ctx, key) hike_ip4_sd_key_m((ctx), hike_meta(), (key))

/* Fills `key` from the IPv4 packet; returns 0, or -1 if the packet is not IPv4. */
static __always_inline int hike_ip4_dst_key_m(struct xdp_md *ctx, const struct hike_pkt_meta *m,
					      struct hike_ip4_dst_key *key)
{
	struct iphdr *ip4 = hike_ip4_m(ctx, m);

	if (!ip4)
		return -1;
	key->dst = ip4->daddr;
	return 0;
}
#define hike_ip4_dst_key(ctx, key) hike_ip4_dst_key_m((ctx), hike_meta(), (key))

/* Fills `key` with the packet's (source, destination) pair whatever the family: IPv6 as is,
 * IPv4 as IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so both families share
 * one key space without colliding. Returns 0, or -1 for a packet that is neither. */
static __always_inline int hike_ip_sd_key_m(struct xdp_md *ctx, const struct hike_pkt_meta *m,
					    struct hike_ip6_sd_key *key)
{
	struct iphdr *ip4;

	if (hike_ip6_sd_key_m(ctx, m, key) == 0)
		return 0;
	ip4 = hike_ip4_m(ctx, m);
	if (!ip4)
		return -1;
	__builtin_memset(key, 0, sizeof(*key));
	key->src.in6_u.u6_addr16[5] = 0xffff;
	key->src.in6_u.u6_addr32[3] = ip4->saddr;
	key->dst.in6_u.u6_addr16[5] = 0xffff;
	key->dst.in6_u.u6_addr32[3] = ip4->daddr;
	return 0;
}
#define hike_ip_sd_key(ctx, key) hike_ip_sd_key_m((ctx), hike_meta(), (key))

/* The 16-bit one's complement checksum `check` after one 16-bit word of the data it covers
 * changed from `old` to `new` (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')). All three in the same
 * byte order (e.g. as read from the packet): one's complement sums do not depend on it. */
static __always_inline __u16 hike_csum16_update(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u32)(__u16)~check + (__u32)(__u16)~old + (__u32) new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The IPv6 header at the L3 offset hike_parse() found (after any VLAN tags), or NULL: found
 * exactly when hike_parse() (loader.h) sets HIKE_META_IPV6 in `meta`. For loaders, which
 * classify before the VM runs; the check is for the verifier. */
static __always_inline struct ipv6hdr *hike_loader_ip6(struct xdp_md *ctx,
							const struct hike_pkt_meta *meta)
{
	if (!(meta->flags & HIKE_META_IPV6))
		return 0;
	return hike_pkt_ptr(ctx, meta->l3_off, sizeof(struct ipv6hdr));
}

/* The fixed IPv4 header at the L3 offset hike_parse() found, or NULL: found exactly when
 * hike_parse() sets HIKE_META_IPV4 in `meta`. For loaders. */
static __always_inline struct iphdr *hike_loader_ip4(struct xdp_md *ctx,
						     const struct hike_pkt_meta *meta)
{
	if (!(meta->flags & HIKE_META_IPV4))
		return 0;
	return hike_pkt_ptr(ctx, meta->l3_off, sizeof(struct iphdr));
}
