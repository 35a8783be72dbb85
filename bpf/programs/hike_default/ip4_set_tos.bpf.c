// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip4_set_tos(tc) -> 0: writes the IPv4 TOS byte (DSCP and ECN) with `tc` and updates the
 * header checksum incrementally (RFC 1624), so a packet valid before is valid after.
 * `tc` above 255: HIKE_NOT_APPLICABLE, nothing written. Not IPv4: HIKE_NOT_APPLICABLE.
 */
#include <hike/net.h>

HIKE_PROG(ip4_set_tos, tc)
{
	struct iphdr *ip = hike_ip4(ctx);
	__u16 old, new;

	if (!ip || tc > 0xff)
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	/* TOS shares its 16-bit checksum word with version and IHL. */
	old = *(__u16 *)ip;
	ip->tos = (__u8)tc;
	new = *(__u16 *)ip;
	ip->check = hike_csum16_update(ip->check, old, new);
	HIKE_RETURN(0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
