// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip6_src_in_set() -> 0 if the packet's IPv6 source address is in the set, 1 if not: the
 * blacklist lookup of the ddos_mark benchmark (no standard program looks up a source alone:
 * ip6_hset_srcdst keys on the (source, destination) pair). Not IPv6: HIKE_NOT_APPLICABLE.
 *
 * Map ip6_src_in_set_map (ip6_src_set.h): HASH struct in6_addr -> struct ip6_src_set_entry,
 * filled by user space.
 */
#include <hike/net.h>

#include "ip6_src_set.h"

#define IP6_SRC_PRESENT 0
#define IP6_SRC_ABSENT 1

HIKE_PROG(ip6_src_in_set)
{
	struct ipv6hdr *ip6 = hike_ip6(ctx);

	if (!ip6)
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	/* The key is read in place from the packet (hike_ip6() checked all 40 bytes of the
	 * header): no copy to the stack. */
	HIKE_RETURN(bpf_map_lookup_elem(&ip6_src_in_set_map, &ip6->saddr) ? IP6_SRC_PRESENT
									  : IP6_SRC_ABSENT);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
