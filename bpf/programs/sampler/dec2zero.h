/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Count-down to zero per key: the logic of ip6_sd_dec2zero and ip4_sd_dec2zero.
 *
 * Contract of dec2zero_run(map, key, count): a count-down per key that starts at `count`; each
 * call decrements it and returns the value reached, except that reaching zero returns 0 and
 * starts again at `count`. So with count 3 the calls return 2, 1, 0, 2, 1, 0, ...: 0 exactly
 * once every `count` calls per key. count 0 behaves as 1 (0 on every call).
 * - Exact across CPUs: the key's calls are counted in one shared LRU hash with an atomic add,
 *   and the count-down is count - (calls mod count). A call with a different `count` for the
 *   same key continues from the same number of calls.
 * - A key evicted by the LRU starts again. Returns HIKE_NOT_APPLICABLE if the map refuses a new
 *   key (practically never: LRU).
 */
#pragma once

#include <hike/net.h>

#ifndef DEC2ZERO_MAX_ENTRIES
#define DEC2ZERO_MAX_ENTRIES 65536
#endif

struct dec2zero_entry {
	__u64 calls; /* calls for this key so far */
};

static __always_inline __u64 dec2zero_run(void *map, const void *key, __u64 count)
{
	struct dec2zero_entry fresh = {}, *e;
	__u64 calls, left;

	if (count == 0)
		count = 1;
	e = bpf_map_lookup_elem(map, key);
	if (!e) {
		/* NOEXIST: if another CPU adds the key at once, its count is kept. */
		bpf_map_update_elem(map, key, &fresh, BPF_NOEXIST);
		e = bpf_map_lookup_elem(map, key);
		if (!e)
			return HIKE_NOT_APPLICABLE;
	}
	calls = __sync_fetch_and_add(&e->calls, 1) + 1;
	left = calls % count;
	return left ? count - left : 0;
}
