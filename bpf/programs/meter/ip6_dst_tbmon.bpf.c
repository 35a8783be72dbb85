// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip6_dst_tbmon() -> 0 in profile, 1 out of profile: a token bucket per IPv6 destination; see
 * tbmon.h for the exact contract. Not IPv6: HIKE_NOT_APPLICABLE.
 *
 * Maps: ip6_dst_tbmon_map (LRU_PERCPU_HASH struct hike_ip6_dst_key -> struct tbmon_state),
 *       ip6_dst_tbmon_cfg (ARRAY[1] of struct tbmon_config: rate, 0 = 100000 tokens/s;
 *       bucket_size, 0 = 10000 tokens).
 */
#include "tbmon.h"

#ifndef IP6_DST_TBMON_DEFAULT_RATE
#define IP6_DST_TBMON_DEFAULT_RATE 100000
#endif
#ifndef IP6_DST_TBMON_DEFAULT_BUCKET
#define IP6_DST_TBMON_DEFAULT_BUCKET 10000
#endif

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, TBMON_MAX_ENTRIES);
	__type(key, struct hike_ip6_dst_key);
	__type(value, struct tbmon_state);
} ip6_dst_tbmon_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tbmon_config);
} ip6_dst_tbmon_cfg SEC(".maps");

HIKE_PROG(ip6_dst_tbmon)
{
	struct hike_ip6_dst_key key;

	if (hike_ip6_dst_key(ctx, &key))
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	HIKE_RETURN(tbmon_run(&ip6_dst_tbmon_map, &ip6_dst_tbmon_cfg, &key, IP6_DST_TBMON_DEFAULT_RATE,
			      IP6_DST_TBMON_DEFAULT_BUCKET));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
