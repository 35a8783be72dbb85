// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hike_drop(): terminal. Ends the chain and drops the packet (XDP_DROP). */
#include <hike/sdk.h>

HIKE_PROG(hike_drop)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
