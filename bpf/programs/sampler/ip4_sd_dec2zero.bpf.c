// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ip4_sd_dec2zero(count) -> 0 once every `count` calls per IPv4 (source, destination) pair, else
 * the remaining count; see dec2zero.h for the exact contract. Not IPv4: HIKE_NOT_APPLICABLE.
 *
 * Map ip4_sd_dec2zero_map: LRU_HASH struct hike_ip4_sd_key -> struct dec2zero_entry.
 */
#include "dec2zero.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DEC2ZERO_MAX_ENTRIES);
	__type(key, struct hike_ip4_sd_key);
	__type(value, struct dec2zero_entry);
} ip4_sd_dec2zero_map SEC(".maps");

HIKE_PROG(ip4_sd_dec2zero, count)
{
	struct hike_ip4_sd_key key;

	if (hike_ip4_sd_key(ctx, &key))
		HIKE_RETURN(HIKE_NOT_APPLICABLE);
	HIKE_RETURN(dec2zero_run(&ip4_sd_dec2zero_map, &key, count));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
