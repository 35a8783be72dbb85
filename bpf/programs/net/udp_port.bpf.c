// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* udp_port() -> the UDP destination port (host order) of an IPv4 or IPv6 packet, or 0 if it has
 * no UDP header (another protocol, a header cut short, a non-first IPv4 fragment, not IP). */
#include <hike/net.h>

HIKE_PROG(udp_port)
{
	struct udphdr *udp = hike_l4(ctx, IPPROTO_UDP, sizeof(*udp));

	HIKE_RETURN(udp ? bpf_ntohs(udp->dest) : 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
