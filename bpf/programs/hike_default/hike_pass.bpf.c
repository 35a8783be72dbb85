// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hike_pass(): terminal. Ends the chain and hands the packet to the kernel's network stack
 * (XDP_PASS). */
#include <hike/sdk.h>

HIKE_PROG(hike_pass)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
