// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Baseline of the dispatch benchmark: N raw XDP programs run one after the other by
 * constant-index tail calls, what several programs on one hook cost without HIKe. Program K
 * (raw_chain_K, 1..8) tail-calls index K of raw_chain_jmp, which user space fills with
 * raw_chain_K+1 for the first N-1 programs; the last finds its index empty and passes. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 9);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} raw_chain_jmp SEC(".maps");

#define RAW_CHAIN(K)                                                                               \
	SEC("xdp")                                                                                 \
	int raw_chain_##K(struct xdp_md *ctx)                                                      \
	{                                                                                          \
		bpf_tail_call(ctx, &raw_chain_jmp, K);                                             \
		return XDP_PASS;                                                                   \
	}

RAW_CHAIN(1)
RAW_CHAIN(2)
RAW_CHAIN(3)
RAW_CHAIN(4)
RAW_CHAIN(5)
RAW_CHAIN(6)
RAW_CHAIN(7)
RAW_CHAIN(8)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
