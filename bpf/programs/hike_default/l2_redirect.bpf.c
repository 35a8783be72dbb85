// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* l2_redirect(ifindex): terminal. Sends the frame unchanged out of interface `ifindex`
 * (XDP_REDIRECT, recorded by hike_redirect() in the VM state); `ifindex` 0, or one that is not
 * a u32, drops the packet. */
#include <hike/sdk.h>

HIKE_PROG(l2_redirect, ifindex)
{
	if (ifindex == 0 || ifindex > 0xffffffffULL)
		return XDP_DROP;
	return hike_redirect((__u32)ifindex);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
