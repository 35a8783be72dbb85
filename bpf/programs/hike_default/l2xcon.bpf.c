// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * l2xcon(): terminal. Layer-2 cross-connect: sends the frame unchanged out of the interface that
 * l2xcon_map associates with the interface it came in on; drops it if there is none (no entry,
 * or egress_ifindex 0).
 *
 * Map l2xcon_map: HASH, key u32 ingress ifindex -> struct l2xcon_target.
 */
#include <hike/sdk.h>

#ifndef L2XCON_MAX_ENTRIES
#define L2XCON_MAX_ENTRIES 256
#endif

struct l2xcon_target {
	__u32 egress_ifindex;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, L2XCON_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct l2xcon_target);
} l2xcon_map SEC(".maps");

HIKE_PROG(l2xcon)
{
	__u32 ingress = ctx->ingress_ifindex;
	struct l2xcon_target *t = bpf_map_lookup_elem(&l2xcon_map, &ingress);

	if (!t || t->egress_ifindex == 0)
		return XDP_DROP;
	return hike_redirect(t->egress_ifindex);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
