// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The traffic ends of the network labs (crates/hike-netlab): the generators run with
 * BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES on a veth, where the kernel allows it (the
 * labs send with an AF_PACKET socket where it does not), and programs attached to the veths
 * that receive. Used by the benchmarks (hike-bench), the demo (hike-demo) and the daemon's
 * end-to-end tests. A live frame is sent for real: XDP_TX puts it on the wire of the veth, to
 * the peer, which accepts it only while the peer has an XDP program of its own.
 *
 * - bench_sink: attached to the benchmark sink's veth. Counts every frame in bench_sink_count
 *   (per CPU): IPv6/UDP frames of the benchmark as `packets`, of which `marked` carry traffic
 *   class 1 and `wrong` differ from what the generator expected (traffic class other than the
 *   marker byte, or a hop limit other than 63: not forwarded exactly once); anything else as
 *   `other`. Drops every frame.
 * - bench_pass: XDP_PASS. A veth accepts frames sent by its peer with XDP only while it has an
 *   XDP program, so the kernel-forwarding variant (ipset) attaches this one to the router's
 *   ingress.
 * - netlab_send: the generator. Each run takes the next of the netlab_send_cfg.nframes frames
 *   of netlab_frames (round robin, per CPU), writes it over the packet's first NETLAB_FRAME_LEN
 *   bytes (live frames come back from the page pool as the receivers left them: marked, hop
 *   limit decremented, MACs rewritten; so every frame leaves exactly as configured, checksums
 *   included), counts it in netlab_send_state.sent and returns XDP_TX. A packet shorter than
 *   NETLAB_FRAME_LEN, or no frame configured: XDP_ABORTED.
 * - netlab_paced: netlab_send at a steady rate, one frame every netlab_paced_cfg.period_ns.
 *   A run sends (as netlab_send) only once the time netlab_paced_state.due (per CPU) has
 *   come, and moves it one period on (to now + one period if it fell further behind: no burst
 *   to catch up); every other run returns XDP_DROP at once. A test run of many repeats thus
 *   spends its time waiting and sends evenly spaced frames, so a receiver sees steady traffic
 *   at a rate it can take. Two generator threads on one CPU share the schedule, and one's runs
 *   cover the other's pauses between test runs. The state also keeps the largest time between
 *   two frames sent (max_gap_ns), to show how steady the traffic was. No period configured:
 *   XDP_ABORTED.
 * - netlab_count: attached to a veth that only counts what arrives (the demo's collector).
 *   Counts IPv6 frames by source address in netlab_count_by_src (per CPU; when the map is
 *   full, in netlab_count_other), anything else in netlab_count_other. Drops every frame.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Ethernet (14) + IPv6 (40) + UDP (8) + the marker byte. */
#define BENCH_MARKER_OFF 62
#define BENCH_MIN_LEN (BENCH_MARKER_OFF + 1)
#define BENCH_FWD_HOP_LIMIT 63

struct bench_sink_count {
	__u64 packets; /* benchmark frames */
	__u64 marked;  /* of which traffic class 1 */
	__u64 wrong;   /* of which not as expected */
	__u64 other;   /* anything else */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_sink_count);
} bench_sink_count SEC(".maps");

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	struct bench_sink_count *c;
	__u32 zero = 0;
	__u8 tc, *b;

	c = bpf_map_lookup_elem(&bench_sink_count, &zero);
	if (!c)
		return XDP_DROP;
	if (data + BENCH_MIN_LEN > end || eth->h_proto != bpf_htons(ETH_P_IPV6) ||
	    ip6->nexthdr != IPPROTO_UDP) {
		c->other++;
		return XDP_DROP;
	}
	b = (__u8 *)ip6;
	tc = (b[0] << 4) | (b[1] >> 4);
	c->packets++;
	if (tc == 1)
		c->marked++;
	if (tc != *((__u8 *)data + BENCH_MARKER_OFF) || ip6->hop_limit != BENCH_FWD_HOP_LIMIT)
		c->wrong++;
	return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* The frames netlab_send sends: Ethernet + IPv6 + UDP + 2 bytes of payload. */
#define NETLAB_FRAME_LEN 64
/* Frames netlab_send sends in round robin. */
#define NETLAB_MAX_FRAMES 1024
/* Distinct IPv6 sources netlab_count tells apart. */
#define NETLAB_COUNT_MAX_SRCS 1024

struct netlab_frame {
	__u8 bytes[NETLAB_FRAME_LEN]; /* the frame as it must leave */
};

struct netlab_send_cfg {
	__u32 nframes; /* entries of netlab_frames in use, 1..NETLAB_MAX_FRAMES; 0: none yet */
};

struct netlab_send_state {
	__u64 next; /* index of the next frame */
	__u64 sent; /* frames sent */
};

struct netlab_src {
	__u8 addr[16]; /* IPv6 source address, as on the wire */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETLAB_MAX_FRAMES);
	__type(key, __u32);
	__type(value, struct netlab_frame);
} netlab_frames SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netlab_send_cfg);
} netlab_send_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netlab_send_state);
} netlab_send_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NETLAB_COUNT_MAX_SRCS);
	__type(key, struct netlab_src);
	__type(value, __u64);
} netlab_count_by_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} netlab_count_other SEC(".maps");

/* Writes the next configured frame over the packet and sends it (see netlab_send). */
static __always_inline int netlab_send_next(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct netlab_send_state *st;
	struct netlab_send_cfg *cfg;
	struct netlab_frame *frame;
	__u32 zero = 0, idx;

	if (data + NETLAB_FRAME_LEN > end)
		return XDP_ABORTED;
	cfg = bpf_map_lookup_elem(&netlab_send_cfg, &zero);
	st = bpf_map_lookup_elem(&netlab_send_state, &zero);
	if (!cfg || !st || cfg->nframes == 0 || cfg->nframes > NETLAB_MAX_FRAMES)
		return XDP_ABORTED;
	idx = st->next < cfg->nframes ? (__u32)st->next : 0;
	st->next = idx + 1;
	frame = bpf_map_lookup_elem(&netlab_frames, &idx);
	if (!frame)
		return XDP_ABORTED;
	__builtin_memcpy(data, frame->bytes, NETLAB_FRAME_LEN);
	st->sent++;
	return XDP_TX;
}

SEC("xdp")
int netlab_send(struct xdp_md *ctx)
{
	return netlab_send_next(ctx);
}

struct netlab_paced_cfg {
	__u64 period_ns; /* time between two frames; 0: not configured */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netlab_paced_cfg);
} netlab_paced_cfg SEC(".maps");

struct netlab_paced_state {
	__u64 due;	  /* when the next frame may leave (bpf_ktime_get_ns) */
	__u64 last;	  /* when the last frame left; 0: none yet */
	__u64 max_gap_ns; /* the largest time between two frames */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netlab_paced_state);
} netlab_paced_state SEC(".maps");

SEC("xdp")
int netlab_paced(struct xdp_md *ctx)
{
	struct netlab_paced_state *st;
	struct netlab_paced_cfg *pace;
	__u32 zero = 0;
	__u64 now;

	pace = bpf_map_lookup_elem(&netlab_paced_cfg, &zero);
	st = bpf_map_lookup_elem(&netlab_paced_state, &zero);
	if (!pace || !st || pace->period_ns == 0)
		return XDP_ABORTED;
	now = bpf_ktime_get_ns();
	if (now < st->due)
		return XDP_DROP;
	st->due = now - st->due > pace->period_ns ? now + pace->period_ns
						  : st->due + pace->period_ns;
	if (st->last && now - st->last > st->max_gap_ns)
		st->max_gap_ns = now - st->last;
	st->last = now;
	return netlab_send_next(ctx);
}

static __always_inline void netlab_count_one(void *map, const void *key)
{
	__u64 *n = bpf_map_lookup_elem(map, key);

	if (n)
		(*n)++;
}

SEC("xdp")
int netlab_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	struct netlab_src src;
	__u64 one = 1, *n;
	__u32 zero = 0;

	if ((void *)(ip6 + 1) > end || eth->h_proto != bpf_htons(ETH_P_IPV6)) {
		netlab_count_one(&netlab_count_other, &zero);
		return XDP_DROP;
	}
	__builtin_memcpy(src.addr, &ip6->saddr, sizeof(src.addr));
	n = bpf_map_lookup_elem(&netlab_count_by_src, &src);
	if (n) {
		(*n)++;
		return XDP_DROP;
	}
	/* A new source: BPF_NOEXIST, because another CPU may have added it meanwhile (then the
	 * update fails and this CPU's own counter, created zero by that CPU's insertion, is
	 * looked up again). */
	if (bpf_map_update_elem(&netlab_count_by_src, &src, &one, BPF_NOEXIST) == 0)
		return XDP_DROP;
	n = bpf_map_lookup_elem(&netlab_count_by_src, &src);
	if (n)
		(*n)++;
	else
		netlab_count_one(&netlab_count_other, &zero);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
