// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lse() -> ns: Last Seen Elapsed. Nanoseconds since this (source, destination) pair was last
 * seen by lse(), and u64::MAX the first time (also for a packet that is neither IPv4 nor IPv6,
 * which has no pair). IPv4 pairs are kept as IPv4-mapped IPv6 addresses, so one program serves
 * both families.
 *
 * Map lse_map: LRU_HASH struct hike_ip6_sd_key -> struct lse_entry, shared by all CPUs: the
 * elapsed time is exact whichever CPU saw the pair last. A pair evicted by the LRU counts as
 * new again.
 */
#include <hike/net.h>

#ifndef LSE_MAX_ENTRIES
#define LSE_MAX_ENTRIES 65536
#endif

struct lse_entry {
	__u64 last_ns; /* hike_now_ns() of the last packet of the pair */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LSE_MAX_ENTRIES);
	__type(key, struct hike_ip6_sd_key);
	__type(value, struct lse_entry);
} lse_map SEC(".maps");

/* Swaps in `now` atomically, so two CPUs seeing the pair at once each get the other's time. */
static __always_inline __u64 lse_elapsed(struct lse_entry *e, __u64 now)
{
	__u64 prev = __sync_lock_test_and_set(&e->last_ns, now);

	return now > prev ? now - prev : 0;
}

HIKE_PROG(lse)
{
	struct hike_ip6_sd_key key;
	struct lse_entry fresh, *e;
	__u64 now;

	if (hike_ip_sd_key(ctx, &key))
		HIKE_RETURN(~0ULL);
	now = hike_now_ns();
	e = bpf_map_lookup_elem(&lse_map, &key);
	if (e)
		HIKE_RETURN(lse_elapsed(e, now));
	fresh.last_ns = now;
	if (bpf_map_update_elem(&lse_map, &key, &fresh, BPF_NOEXIST) == 0)
		HIKE_RETURN(~0ULL);
	/* Another CPU added the pair in between. */
	e = bpf_map_lookup_elem(&lse_map, &key);
	HIKE_RETURN(e ? lse_elapsed(e, now) : ~0ULL);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
