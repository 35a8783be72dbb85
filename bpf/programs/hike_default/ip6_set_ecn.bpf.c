// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip6_set_ecn() -> 0: marks the IPv6 packet Congestion Experienced (ECN field, the low two bits
 * of the traffic class, set to CE = 0b11).
 * RFC 3168 6.1.1.1 forbids CE on a packet that is not ECN-capable (Not-ECT, 0b00): such a
 * packet is left unchanged and the program returns 1, so the chain can drop it instead (what a
 * router does to signal congestion without ECN). Not IPv6: HIKE_NOT_APPLICABLE.
 */
#include <hike/net.h>

#define IP6_ECN_SHIFT 4 /* in the second byte of the header */
#define IP6_ECN_MASK (0x3 << IP6_ECN_SHIFT)

HIKE_PROG(ip6_set_ecn)
{
	__u8 *b = (__u8 *)hike_ip6(ctx);

	if (!b)
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	if (!(b[1] & IP6_ECN_MASK))
		HIKE_RETURN(1);
	b[1] |= IP6_ECN_MASK;
	HIKE_RETURN(0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
