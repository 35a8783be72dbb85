// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip4_sd_tbmon() -> 0 in profile, 1 out of profile: a token bucket per IPv4 (source,
 * destination) pair; see tbmon.h for the exact contract. Not IPv4: HIKE_NOT_APPLICABLE.
 *
 * Maps: ip4_sd_tbmon_map (LRU_PERCPU_HASH struct hike_ip4_sd_key -> struct tbmon_state),
 *       ip4_sd_tbmon_cfg (ARRAY[1] of struct tbmon_config: rate, 0 = 10000 tokens/s;
 *       bucket_size, 0 = 1000 tokens).
 */
#include "tbmon.h"

#ifndef IP4_SD_TBMON_DEFAULT_RATE
#define IP4_SD_TBMON_DEFAULT_RATE 10000
#endif
#ifndef IP4_SD_TBMON_DEFAULT_BUCKET
#define IP4_SD_TBMON_DEFAULT_BUCKET 1000
#endif

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, TBMON_MAX_ENTRIES);
	__type(key, struct hike_ip4_sd_key);
	__type(value, struct tbmon_state);
} ip4_sd_tbmon_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tbmon_config);
} ip4_sd_tbmon_cfg SEC(".maps");

HIKE_PROG(ip4_sd_tbmon)
{
	struct hike_ip4_sd_key key;

	if (hike_ip4_sd_key(ctx, &key))
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	HIKE_RETURN(tbmon_run(&ip4_sd_tbmon_map, &ip4_sd_tbmon_cfg, &key, IP4_SD_TBMON_DEFAULT_RATE,
			      IP4_SD_TBMON_DEFAULT_BUCKET));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
