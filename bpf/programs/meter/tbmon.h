/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Token bucket monitor: the logic of ip6_dst_tbmon, ip6_sd_tbmon, ip4_dst_tbmon and
 * ip4_sd_tbmon, which differ only in the key.
 *
 * Contract of tbmon_run(state_map, cfg_map, key, default_rate, default_bucket):
 * - Each key has a bucket of `bucket_size` tokens, refilled at `rate` tokens per second; a
 *   packet takes one token. Returns TBMON_IN_PROFILE (0) and takes the token if the bucket has
 *   one, else TBMON_OUT_OF_PROFILE (1) (nothing taken). A new key starts with a full bucket.
 * - rate and bucket_size come from the program's config map (struct tbmon_config), read on
 *   every packet, so a change applies at once; a field that is 0 takes its default.
 *   bucket_size is capped at TBMON_MAX_BUCKET.
 * - State is per CPU (LRU_PERCPU_HASH, as in the original prototype): no atomics and no shared
 *   cache line on the fast path, and the LRU never lets a flood of new keys stop metering.
 *   The configured rate therefore applies per CPU: a flow that RSS steers to one CPU sees
 *   exactly the configured rate; traffic for one key spread over k CPUs gets up to k times it.
 * - Arithmetic is exact integer arithmetic in nanotokens (1e-9 token): no drift, no float.
 *   Returns HIKE_NOT_APPLICABLE if the state map refuses a new key (practically never: LRU).
 */
#pragma once

#include <hike/net.h>

#ifndef TBMON_MAX_ENTRIES
#define TBMON_MAX_ENTRIES 65536
#endif

#define TBMON_IN_PROFILE 0
#define TBMON_OUT_OF_PROFILE 1

/* Nanotokens per token: credit grows by elapsed_ns * rate. */
#define TBMON_NANO 1000000000ULL
/* Largest bucket_size: bucket_size * TBMON_NANO must fit in a u64. */
#define TBMON_MAX_BUCKET (1ULL << 32)

/* The config map's one value. */
struct tbmon_config {
	__u64 rate;        /* tokens (packets) per second; 0: the program's default */
	__u64 bucket_size; /* tokens (burst); 0: the program's default */
};

/* A key's bucket, on one CPU. */
struct tbmon_state {
	__u64 credit;  /* nanotokens in the bucket after the last packet */
	__u64 last_ns; /* hike_now_ns() of the last packet; 0: never (new on this CPU) */
};

static __always_inline __u64 tbmon_run(void *state_map, void *cfg_map, const void *key,
				       __u64 default_rate, __u64 default_bucket)
{
	struct tbmon_state fresh = {}, *st;
	struct tbmon_config *cfg;
	__u64 rate = default_rate, bucket = default_bucket, cap, credit, elapsed, now;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(cfg_map, &zero);
	if (cfg) {
		if (cfg->rate)
			rate = cfg->rate;
		if (cfg->bucket_size)
			bucket = cfg->bucket_size;
	}
	if (bucket > TBMON_MAX_BUCKET)
		bucket = TBMON_MAX_BUCKET;
	cap = bucket * TBMON_NANO;

	st = bpf_map_lookup_elem(state_map, key);
	if (!st) {
		/* A new per-CPU element is zero on every CPU: last_ns 0 means a full bucket. */
		bpf_map_update_elem(state_map, key, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(state_map, key);
		if (!st)
			return HIKE_NOT_APPLICABLE;
	}
	now = hike_now_ns();
	elapsed = now - st->last_ns;
	/* Refilling for cap / rate ns or more fills the bucket; below that, elapsed * rate <
	 * cap cannot overflow. */
	if (st->last_ns == 0 || now < st->last_ns || elapsed >= cap / rate) {
		credit = cap;
	} else {
		credit = st->credit + elapsed * rate;
		if (credit > cap)
			credit = cap;
	}
	st->last_ns = now;
	if (credit >= TBMON_NANO) {
		st->credit = credit - TBMON_NANO;
		return TBMON_IN_PROFILE;
	}
	st->credit = credit;
	return TBMON_OUT_OF_PROFILE;
}
