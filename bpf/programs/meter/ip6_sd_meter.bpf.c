// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip6_sd_meter() -> 0: counts packets and bytes per IPv6 (source, destination) pair; see meter.h.
 * Not IPv6: HIKE_NOT_APPLICABLE, nothing counted.
 *
 * Map ip6_sd_meter_map: LRU_PERCPU_HASH struct hike_ip6_sd_key -> struct meter_count.
 */
#include "meter.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, METER_MAX_ENTRIES);
	__type(key, struct hike_ip6_sd_key);
	__type(value, struct meter_count);
} ip6_sd_meter_map SEC(".maps");

HIKE_PROG(ip6_sd_meter)
{
	struct hike_ip6_sd_key key;

	if (hike_ip6_sd_key(ctx, &key))
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	HIKE_RETURN(meter_run(&ip6_sd_meter_map, &key, ctx->data_end - ctx->data));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
