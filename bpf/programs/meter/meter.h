/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet and byte counters per key: the logic of ip6_dst_meter and ip6_sd_meter.
 *
 * Contract of meter_run(map, key, bytes): adds one packet and `bytes` to the key's counters and
 * returns 0. Counters are per CPU (LRU_PERCPU_HASH: no atomics on the fast path; user space
 * sums the CPUs); when the map is full the least recently used key is evicted, so new flows are
 * always counted.
 */
#pragma once

#include <hike/net.h>

#ifndef METER_MAX_ENTRIES
#define METER_MAX_ENTRIES 65536
#endif

struct meter_count {
	__u64 packets;
	__u64 bytes; /* whole frames, from the Ethernet header on */
};

static __always_inline __u64 meter_run(void *map, const void *key, __u64 bytes)
{
	struct meter_count first = { .packets = 1, .bytes = bytes };
	struct meter_count *c = bpf_map_lookup_elem(map, key);

	if (!c) {
		/* A new per-CPU element holds `first` on this CPU and zero on the others. */
		if (bpf_map_update_elem(map, key, &first, BPF_NOEXIST) == 0)
			return 0;
		/* Another CPU created it in between. */
		c = bpf_map_lookup_elem(map, key);
		if (!c)
			return 0;
	}
	c->packets++;
	c->bytes += bytes;
	return 0;
}
