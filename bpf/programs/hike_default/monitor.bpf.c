// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * monitor(event) -> 0: counts one occurrence of `event` (any u64) in monitor_map.
 *
 * Map monitor_map: PERCPU_HASH, key u64 event -> struct monitor_count. Each CPU counts on its
 * own (no atomic, no shared cache line); user space sums the CPUs. Once MONITOR_MAX_EVENTS
 * distinct events exist, a new one is not counted (the chain is not told: counting must never
 * change a packet's fate).
 */
#include <hike/sdk.h>

#ifndef MONITOR_MAX_EVENTS
#define MONITOR_MAX_EVENTS 1024
#endif

struct monitor_count {
	__u64 packets; /* calls with this event, on this CPU */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MONITOR_MAX_EVENTS);
	__type(key, __u64);
	__type(value, struct monitor_count);
} monitor_map SEC(".maps");

HIKE_PROG(monitor, event)
{
	struct monitor_count one = { .packets = 1 };
	struct monitor_count *c;

	c = bpf_map_lookup_elem(&monitor_map, &event);
	if (c) {
		c->packets++;
		HIKE_RETURN(0);
	}
	/* A new per-CPU element holds `one` on this CPU and zero on the others. */
	if (bpf_map_update_elem(&monitor_map, &event, &one, BPF_NOEXIST) == 0)
		HIKE_RETURN(0);
	/* Another CPU created it in between (or the map is full). */
	c = bpf_map_lookup_elem(&monitor_map, &event);
	if (c)
		c->packets++;
	HIKE_RETURN(0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
