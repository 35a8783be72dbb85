// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A loader for tests and benchmarks: every packet starts the chain and arguments that user
 * space wrote in test_boot. */
#include <hike/loader.h>

struct test_boot {
	__u32 chain_id;
	__u32 reserved;
	__u64 args[HIKE_MAX_ARGS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct test_boot);
} test_boot SEC(".maps");

HIKE_LOADER(test_loader)
{
	__u32 zero = 0;
	struct test_boot *boot = bpf_map_lookup_elem(&test_boot, &zero);

	if (!boot)
		return hike_loader_no_chain();
	return hike_loader_start(ctx, boot->chain_id, boot->args);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
