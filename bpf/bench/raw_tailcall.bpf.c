// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Baseline of the tailcall_loop benchmark (the paper's raw eBPF): an XDP program that tail-calls
 * itself `raw_cfg.calls` times through a constant index, counting in a per-CPU map. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} raw_jmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} raw_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} raw_count SEC(".maps");

SEC("xdp")
int raw_tailcall(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u32 *calls = bpf_map_lookup_elem(&raw_cfg, &zero);
	__u32 *count = bpf_map_lookup_elem(&raw_count, &zero);

	if (!calls || !count)
		return XDP_ABORTED;
	if (*count < *calls) {
		(*count)++;
		bpf_tail_call(ctx, &raw_jmp, 0);
		return XDP_ABORTED;
	}
	*count = 0;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
