// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Baseline of the ddos_mark_tc benchmark: raw_ddos_mark.bpf.c's marking at the TC ingress
 * hook, a hand-written sched_cls program. It looks the IPv6 source up in the blacklist
 * (ip6_src_set.h, the map of the HIKe program ip6_src_in_set) and, if it is there, sets the
 * traffic class to 1; every packet goes on (TC_ACT_OK). Like the HIKe TC loader, it first
 * makes sure the headers are in the linear part (bpf_skb_pull_data when they are not).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ip6_src_set.h"

#define RAW_MARK_TC 1

SEC("tc")
int raw_ddos_mark_tc(struct __sk_buff *skb)
{
	void *data, *end;
	struct ethhdr *eth;
	struct ipv6hdr *ip6;
	__be16 *w;

	if (skb->data_end - skb->data < skb->len)
		bpf_skb_pull_data(skb, 0);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	eth = data;
	if (data + sizeof(struct ethhdr) + sizeof(struct ipv6hdr) > end)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	ip6 = (struct ipv6hdr *)(eth + 1);
	if (!bpf_map_lookup_elem(&ip6_src_in_set_map, &ip6->saddr))
		return TC_ACT_OK;
	/* Version(4) | traffic class(8) | flow label(4 of 20): the class is bits 4..11. */
	w = (__be16 *)ip6;
	*w = (*w & bpf_htons(0xf00f)) | bpf_htons(RAW_MARK_TC << 4);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
