// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip4_hset_srcdst(action) -> 0 if present: a set of IPv4 (source, destination) pairs with
 * expiry, as a blacklist. action 0 LOOKUP, 1 ADD (0 on success), 2 LOOKUP_AND_CLEAN (an expired
 * entry is removed); see hset.h for the exact contract. Not IPv4: HIKE_NOT_APPLICABLE.
 *
 * Maps: ip4_hset_srcdst_map (LRU_HASH struct hike_ip4_sd_key -> struct hset_entry),
 *       ip4_hset_srcdst_cfg (ARRAY[1] of struct hset_config: timeout_ns, 0 = 10 s).
 */
#include "hset.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HSET_MAX_ENTRIES);
	__type(key, struct hike_ip4_sd_key);
	__type(value, struct hset_entry);
} ip4_hset_srcdst_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hset_config);
} ip4_hset_srcdst_cfg SEC(".maps");

HIKE_PROG(ip4_hset_srcdst, action)
{
	struct hike_ip4_sd_key key;

	if (hike_ip4_sd_key(ctx, &key))
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	HIKE_RETURN(hset_run(&ip4_hset_srcdst_map, &ip4_hset_srcdst_cfg, &key, action));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
