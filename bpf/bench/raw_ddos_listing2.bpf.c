// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Baseline of the ddos_listing2 benchmark: the paper's Listing 2 (ddos_tb_2_lev, two token
 * buckets, a blacklist, a sampler and a monitor) as one hand-written XDP program, making the
 * same decisions as the chain of the same name on the standard HIKe programs
 * (crates/hike-stdlib-tests/tests/kernel_ddos_listing2.rs), with maps of the same types, keys,
 * values and semantics:
 *
 *   if (src, dst) is in the blacklist (lookup and clean, entries expire):
 *       if the pair's sampler counts down to 0 (once every 500):
 *           count REDIRECT; redirect to ifindex 6                       -> XDP_REDIRECT
 *       count DROP                                                      -> XDP_DROP
 *   if the destination's token bucket is out of profile:
 *       if the pair's token bucket is out of profile:
 *           blacklist (src, dst); count DROP                            -> XDP_DROP
 *   count PASS                                                          -> XDP_PASS
 *
 * Not IPv6 (or a header cut short): XDP_PASS, as the ip6_sc loader's default verdict.
 *
 * Maps (as hike_default/hset.h, meter/tbmon.h, sampler/dec2zero.h, hike_default/monitor.bpf.c;
 * the algorithms are copied, not included, so that the baseline shares no code with the VM):
 * - raw_l2_hset: LRU_HASH {src, dst} -> {added_ns}; raw_l2_hset_cfg {timeout_ns, 0 = 10 s}.
 * - raw_l2_dst_tb: LRU_PERCPU_HASH {dst} -> {credit, last_ns}; raw_l2_dst_tb_cfg {rate,
 *   bucket_size} (0 = 100000 /s, 10000).
 * - raw_l2_sd_tb: LRU_PERCPU_HASH {src, dst} -> {credit, last_ns}; raw_l2_sd_tb_cfg
 *   (0 = 10000 /s, 1000).
 * - raw_l2_dec2zero: LRU_HASH {src, dst} -> {calls}, atomic.
 * - raw_l2_monitor: PERCPU_HASH u64 event -> {packets}.
 *
 * Where the single program is written better than the chain can be: the (src, dst) key is
 * built once for the three maps that use it, and the clock is read only when an entry needs it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define L2_MAX_ENTRIES 65536
#define L2_MONITOR_MAX_EVENTS 1024

#define L2_PASS 0
#define L2_DROP 1
#define L2_REDIRECT 2
#define L2_REDIRECT_IFINDEX 6
#define L2_SAMPLE_EVERY 500

#define L2_HSET_DEFAULT_TIMEOUT_NS (10ULL * 1000 * 1000 * 1000)
#define L2_DST_TB_DEFAULT_RATE 100000
#define L2_DST_TB_DEFAULT_BUCKET 10000
#define L2_SD_TB_DEFAULT_RATE 10000
#define L2_SD_TB_DEFAULT_BUCKET 1000
#define L2_TB_NANO 1000000000ULL
#define L2_TB_MAX_BUCKET (1ULL << 32)

struct l2_sd_key {
	struct in6_addr src;
	struct in6_addr dst;
};

struct l2_dst_key {
	struct in6_addr dst;
};

struct l2_hset_entry {
	__u64 added_ns;
};

struct l2_hset_cfg {
	__u64 timeout_ns;
};

struct l2_tb_state {
	__u64 credit;  /* nanotokens */
	__u64 last_ns; /* 0: new on this CPU */
};

struct l2_tb_cfg {
	__u64 rate;
	__u64 bucket_size;
};

struct l2_dec2zero_entry {
	__u64 calls;
};

struct l2_monitor_count {
	__u64 packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, L2_MAX_ENTRIES);
	__type(key, struct l2_sd_key);
	__type(value, struct l2_hset_entry);
} raw_l2_hset SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l2_hset_cfg);
} raw_l2_hset_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, L2_MAX_ENTRIES);
	__type(key, struct l2_dst_key);
	__type(value, struct l2_tb_state);
} raw_l2_dst_tb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l2_tb_cfg);
} raw_l2_dst_tb_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, L2_MAX_ENTRIES);
	__type(key, struct l2_sd_key);
	__type(value, struct l2_tb_state);
} raw_l2_sd_tb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l2_tb_cfg);
} raw_l2_sd_tb_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, L2_MAX_ENTRIES);
	__type(key, struct l2_sd_key);
	__type(value, struct l2_dec2zero_entry);
} raw_l2_dec2zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, L2_MONITOR_MAX_EVENTS);
	__type(key, __u64);
	__type(value, struct l2_monitor_count);
} raw_l2_monitor SEC(".maps");

/* Whether (src, dst) is blacklisted; an expired entry is removed (LOOKUP_AND_CLEAN). */
static __always_inline int l2_blacklisted(const struct l2_sd_key *key)
{
	struct l2_hset_entry *e = bpf_map_lookup_elem(&raw_l2_hset, key);
	struct l2_hset_cfg *cfg;
	__u64 timeout = L2_HSET_DEFAULT_TIMEOUT_NS;
	__u32 zero = 0;

	if (!e)
		return 0;
	cfg = bpf_map_lookup_elem(&raw_l2_hset_cfg, &zero);
	if (cfg && cfg->timeout_ns)
		timeout = cfg->timeout_ns;
	/* Signed: an ADD on another CPU may store a time a little after our clock. */
	if ((__s64)(bpf_ktime_get_ns() - e->added_ns) < (__s64)timeout)
		return 1;
	bpf_map_delete_elem(&raw_l2_hset, key);
	return 0;
}

/* Adds (src, dst) to the blacklist, or restarts its timeout. */
static __always_inline void l2_blacklist(const struct l2_sd_key *key)
{
	struct l2_hset_entry fresh, *e = bpf_map_lookup_elem(&raw_l2_hset, key);
	__u64 now = bpf_ktime_get_ns();

	if (e) {
		e->added_ns = now;
		return;
	}
	fresh.added_ns = now;
	bpf_map_update_elem(&raw_l2_hset, key, &fresh, BPF_ANY);
}

/* 0 once every `count` calls per key, else the count left (sampler/dec2zero.h). */
static __always_inline __u64 l2_dec2zero(const struct l2_sd_key *key, __u64 count)
{
	struct l2_dec2zero_entry fresh = {}, *e;
	__u64 calls, left;

	e = bpf_map_lookup_elem(&raw_l2_dec2zero, key);
	if (!e) {
		bpf_map_update_elem(&raw_l2_dec2zero, key, &fresh, BPF_NOEXIST);
		e = bpf_map_lookup_elem(&raw_l2_dec2zero, key);
		if (!e)
			return ~0ULL;
	}
	calls = __sync_fetch_and_add(&e->calls, 1) + 1;
	left = calls % count;
	return left ? count - left : 0;
}

/* Token bucket (meter/tbmon.h): 1 if in profile (a token taken), 0 if out of profile or the
 * map refused a new key. */
static __always_inline int l2_tb_in_profile(void *state_map, void *cfg_map, const void *key,
					    __u64 default_rate, __u64 default_bucket)
{
	struct l2_tb_state fresh = {}, *st;
	struct l2_tb_cfg *cfg;
	__u64 rate = default_rate, bucket = default_bucket, cap, credit, elapsed, now;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(cfg_map, &zero);
	if (cfg) {
		if (cfg->rate)
			rate = cfg->rate;
		if (cfg->bucket_size)
			bucket = cfg->bucket_size;
	}
	if (bucket > L2_TB_MAX_BUCKET)
		bucket = L2_TB_MAX_BUCKET;
	cap = bucket * L2_TB_NANO;

	st = bpf_map_lookup_elem(state_map, key);
	if (!st) {
		bpf_map_update_elem(state_map, key, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(state_map, key);
		if (!st)
			return 0;
	}
	now = bpf_ktime_get_ns();
	elapsed = now - st->last_ns;
	if (st->last_ns == 0 || now < st->last_ns || elapsed >= cap / rate) {
		credit = cap;
	} else {
		credit = st->credit + elapsed * rate;
		if (credit > cap)
			credit = cap;
	}
	st->last_ns = now;
	if (credit >= L2_TB_NANO) {
		st->credit = credit - L2_TB_NANO;
		return 1;
	}
	st->credit = credit;
	return 0;
}

/* Counts one occurrence of `event` (hike_default/monitor.bpf.c). */
static __always_inline void l2_monitor(__u64 event)
{
	struct l2_monitor_count one = { .packets = 1 };
	struct l2_monitor_count *c = bpf_map_lookup_elem(&raw_l2_monitor, &event);

	if (c) {
		c->packets++;
		return;
	}
	if (bpf_map_update_elem(&raw_l2_monitor, &event, &one, BPF_NOEXIST) == 0)
		return;
	c = bpf_map_lookup_elem(&raw_l2_monitor, &event);
	if (c)
		c->packets++;
}

SEC("xdp")
int raw_ddos_listing2(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	struct l2_sd_key key;

	if (data + sizeof(struct ethhdr) + sizeof(struct ipv6hdr) > end ||
	    eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	__builtin_memcpy(&key.src, &ip6->saddr, sizeof(key.src));
	__builtin_memcpy(&key.dst, &ip6->daddr, sizeof(key.dst));

	if (l2_blacklisted(&key)) {
		if (l2_dec2zero(&key, L2_SAMPLE_EVERY) == 0) {
			l2_monitor(L2_REDIRECT);
			return bpf_redirect(L2_REDIRECT_IFINDEX, 0);
		}
		l2_monitor(L2_DROP);
		return XDP_DROP;
	}
	/* The destination's bucket is keyed by the address in place in the packet. */
	if (!l2_tb_in_profile(&raw_l2_dst_tb, &raw_l2_dst_tb_cfg, &ip6->daddr,
			      L2_DST_TB_DEFAULT_RATE, L2_DST_TB_DEFAULT_BUCKET) &&
	    !l2_tb_in_profile(&raw_l2_sd_tb, &raw_l2_sd_tb_cfg, &key, L2_SD_TB_DEFAULT_RATE,
			      L2_SD_TB_DEFAULT_BUCKET)) {
		l2_blacklist(&key);
		l2_monitor(L2_DROP);
		return XDP_DROP;
	}
	l2_monitor(L2_PASS);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
