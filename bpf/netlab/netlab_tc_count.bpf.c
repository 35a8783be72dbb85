// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Another tool's TC program, for the tests of tcx coexistence: it counts the packets it sees
 * (`tc_count`, key 0) and lets the hook's next program decide (TC_ACT_UNSPEC). Not a HIKe
 * program. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tc_count SEC(".maps");

SEC("tc")
int netlab_tc_count(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&tc_count, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
