// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip6_set_tos(tc) -> 0: writes the whole 8-bit IPv6 traffic class (DSCP and ECN) with `tc`,
 * leaving the version and the flow label alone (IPv6 has no header checksum).
 * `tc` above 255: HIKE_NOT_APPLICABLE, nothing written. Not IPv6: HIKE_NOT_APPLICABLE.
 */
#include <hike/net.h>

HIKE_PROG(ip6_set_tos, tc)
{
	__u8 *b = (__u8 *)hike_ip6(ctx);

	if (!b || tc > 0xff)
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	/* Version(4) | traffic class(8) | flow label(20): the class straddles bytes 0 and 1. */
	b[0] = (b[0] & 0xf0) | (__u8)(tc >> 4);
	b[1] = (b[1] & 0x0f) | (__u8)((tc & 0x0f) << 4);
	HIKE_RETURN(0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
