/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A set of (source, destination) pairs whose entries expire: the logic of ip6_hset_srcdst and
 * ip4_hset_srcdst, which differ only in the key.
 *
 * Contract of hset_run(set, cfg, key, action):
 * - action HSET_LOOKUP (0): HSET_PRESENT (0) if `key` was added less than the timeout ago, else
 *   HSET_ABSENT (1). An expired entry is reported absent and left in place.
 * - action HSET_ADD (1): adds `key`, or restarts its timeout if present; 0 on success,
 *   HSET_ABSENT if the map refused it.
 * - action HSET_LOOKUP_AND_CLEAN (2): like LOOKUP, and an expired entry is removed.
 * - any other action: HIKE_NOT_APPLICABLE, nothing changes.
 * - The timeout is struct hset_config.timeout_ns of the program's config map, read on every
 *   call (a change applies at once, to old entries too); 0 means HSET_DEFAULT_TIMEOUT_NS.
 * - The set is one LRU hash shared by all CPUs (a pair added on one CPU is present on all);
 *   when it is full the least recently used entry makes room, so a flood of new pairs can
 *   never stop additions. LOOKUP_AND_CLEAN may remove an entry that another CPU refreshes at
 *   the same instant; the next ADD puts it back.
 */
#pragma once

#include <hike/net.h>

#ifndef HSET_DEFAULT_TIMEOUT_NS
#define HSET_DEFAULT_TIMEOUT_NS (10ULL * 1000 * 1000 * 1000)
#endif
#ifndef HSET_MAX_ENTRIES
#define HSET_MAX_ENTRIES 65536
#endif

#define HSET_LOOKUP 0
#define HSET_ADD 1
#define HSET_LOOKUP_AND_CLEAN 2

#define HSET_PRESENT 0
#define HSET_ABSENT 1

/* The config map's one value. */
struct hset_config {
	__u64 timeout_ns; /* how long an entry lasts after its ADD; 0: HSET_DEFAULT_TIMEOUT_NS */
};

/* A set entry. */
struct hset_entry {
	__u64 added_ns; /* hike_now_ns() of the last ADD */
};

static __always_inline __u64 hset_timeout(void *cfg_map)
{
	__u32 zero = 0;
	struct hset_config *cfg = bpf_map_lookup_elem(cfg_map, &zero);

	return cfg && cfg->timeout_ns ? cfg->timeout_ns : HSET_DEFAULT_TIMEOUT_NS;
}

static __always_inline __u64 hset_run(void *set, void *cfg_map, const void *key, __u64 action)
{
	struct hset_entry fresh, *e;
	__u64 now;

	if (action != HSET_LOOKUP && action != HSET_ADD && action != HSET_LOOKUP_AND_CLEAN)
		return HIKE_NOT_APPLICABLE;
	e = bpf_map_lookup_elem(set, key);
	/* The clock only when an entry is added or found: a miss, the common case of a
	 * blacklist lookup, then costs one helper call instead of two (about 30 ns here). */
	if (!e && action != HSET_ADD)
		return HSET_ABSENT;
	now = hike_now_ns();
	if (action == HSET_ADD) {
		if (e) {
			/* In place: an update would allocate a new LRU node for every ADD. */
			e->added_ns = now;
			return 0;
		}
		fresh.added_ns = now;
		if (bpf_map_update_elem(set, key, &fresh, BPF_ANY))
			return HSET_ABSENT;
		return 0;
	}
	/* Signed: an ADD on another CPU may store a time a little after our `now`. */
	if ((__s64)(now - e->added_ns) < (__s64)hset_timeout(cfg_map))
		return HSET_PRESENT;
	if (action == HSET_LOOKUP_AND_CLEAN)
		bpf_map_delete_elem(set, key);
	return HSET_ABSENT;
}
