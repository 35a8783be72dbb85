/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The hook a HIKe object is compiled for: XDP (the default) or TC (`-DHIKE_CTX_TC`, a sched_cls
 * program for tcx ingress and egress). Every object is built once per context from the same
 * source (crates/hike-bpf's build script); nothing else in the SDK, the VM, the loaders or a
 * wizard's program depends on which.
 *
 * Contract:
 * - `struct xdp_md` is the packet context a program is written against. At TC it names
 *   `struct __sk_buff`: the fields a HIKe program reads (`data`, `data_end`, `ingress_ifindex`)
 *   exist in both with the same meaning, so a wizard's program compiles unchanged. At TC,
 *   `data`..`data_end` is the linear part of the skb; the loader pulls the whole packet into it
 *   first (hike_ctx_linearize()), so a program sees the same bytes as at XDP.
 * - Verdicts are XDP's numbers everywhere inside the VM and the programs (XDP_PASS, XDP_DROP,
 *   ...); HIKE_CTX_EXIT(ctx, verdict) turns the packet's final verdict into the hook's return
 *   value at the one place a packet leaves the VM (the SDK's program exit, the VM's end, the
 *   loaders). At XDP it is the identity, so XDP objects compile to the code they did before.
 * - HIKE_CTX_SEC is the ELF section of entry points: "xdp", or "tc" (sched_cls; a tcx link at
 *   either direction accepts it).
 * - The VM's program table is `hike_progs` at XDP and `hike_progs_tc` at TC: a tail call
 *   reaches only programs of its own type, so each context has its own table (same slots).
 */
#pragma once

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#ifdef HIKE_CTX_TC

#define HIKE_CTX_SEC "tc"
/* TCX_NEXT (linux/bpf.h, enum tcx_action_base, kernel >= 6.6): the hook's next program takes
 * the packet; what a script's verdict that proceeds returns (dispatch.h). */
#define HIKE_CTX_NEXT (-1)
/* The program table of sched_cls programs (the name the runtime shares it by). */
#define hike_progs hike_progs_tc
/* The context a program is written against; see the contract above. */
#define xdp_md __sk_buff
/* Packet offsets are masked (net.h, vm.h) so that the verifier bounds a packet pointer: below
 * 32 KiB, which with the access's length stays under its 64 KiB limit. The VM's packet access
 * faults (pkt_out_of_bounds) from that offset on, where a GSO skb could still have bytes. */
#define HIKE_CTX_PKT_OFF_MASK 0x7fff
#define HIKE_CTX_PKT_OFF_MAX HIKE_CTX_PKT_OFF_MASK

/* Pulls the whole packet into the linear part (bpf_skb_pull_data() with 0: all of it), so that
 * data..data_end covers every byte, as at XDP. It is a no-op for a linear skb, the usual case;
 * if it fails (no memory), the packet is parsed as far as it is linear. Invalidates packet
 * pointers: called before any is taken. */
static __always_inline void hike_ctx_linearize(struct __sk_buff *ctx)
{
	if (ctx->data_end - ctx->data < ctx->len)
		bpf_skb_pull_data(ctx, 0);
}

/* The queue the packet arrived on (XDP's rx_queue_index). */
static __always_inline __u32 hike_ctx_rx_queue(struct __sk_buff *ctx)
{
	return ctx->queue_mapping;
}

/* What bpf_redirect() returned, as the VM's verdict: XDP_REDIRECT when the target is set. */
static __always_inline int hike_ctx_redirect_verdict(long ret)
{
	return ret == TC_ACT_REDIRECT ? XDP_REDIRECT : XDP_ABORTED;
}

/* The packet's verdict (XDP numbers) as a TC action. `tx` sends the packet back out of the
 * interface it is on (bpf_redirect(ifindex, 0)) where it arrived on it (tc_ingress, as
 * XDP_TX); at egress (the interface it arrived on is not the one it leaves by, or none) it is
 * already leaving by its interface and goes on (TC_ACT_OK). A TC action a program returned
 * itself (TC_ACT_REDIRECT from a direct bpf_redirect()) is kept; any other unknown value drops,
 * as XDP does. */
static __always_inline int hike_ctx_exit(struct __sk_buff *ctx, int verdict)
{
	switch (verdict) {
	case HIKE_CTX_NEXT:
		return HIKE_CTX_NEXT;
	case XDP_PASS:
		return TC_ACT_OK;
	case XDP_REDIRECT:
	case TC_ACT_REDIRECT:
		return TC_ACT_REDIRECT;
	case XDP_TX:
		if (ctx->ingress_ifindex != ctx->ifindex)
			return TC_ACT_OK;
		return bpf_redirect(ctx->ifindex, 0);
	default:
		return TC_ACT_SHOT;
	}
}
#define HIKE_CTX_EXIT(ctx, verdict) hike_ctx_exit((ctx), (verdict))

#else /* XDP */

#define HIKE_CTX_SEC "xdp"
/* An XDP frame is linear and smaller than 16 KiB; the VM's packet access takes offsets up to
 * 0xffff (and the length check then faults past the frame). */
#define HIKE_CTX_PKT_OFF_MASK 0x3fff
#define HIKE_CTX_PKT_OFF_MAX 0xffff

static __always_inline void hike_ctx_linearize(struct xdp_md *ctx)
{
	(void)ctx;
}

static __always_inline __u32 hike_ctx_rx_queue(struct xdp_md *ctx)
{
	return ctx->rx_queue_index;
}

static __always_inline int hike_ctx_redirect_verdict(long ret)
{
	return (int)ret;
}

#define HIKE_CTX_EXIT(ctx, verdict) (verdict)

#endif

/* The packet's length, data_end - data, in both contexts. One asm statement: clang holds `data`
 * as the u32 field it is and may spill it to a 4-byte stack slot between the two loads, which the
 * verifier refuses once the load has made it a packet pointer ("invalid size of register spill";
 * a fused chain with many live registers met it). Volatile: a program may move `data`
 * (bpf_xdp_adjust_head()), so two reads are not one. */
static __always_inline __u64 hike_ctx_pkt_len(struct xdp_md *ctx)
{
	__u64 len, data;

	asm volatile("%[len] = *(u32 *)(%[ctx] + %[end_off])\n\t"
		     "%[data] = *(u32 *)(%[ctx] + %[data_off])\n\t"
		     "%[len] -= %[data]"
		     : [len] "=&r"(len), [data] "=&r"(data)
		     : [ctx] "r"(ctx), [end_off] "i"(__builtin_offsetof(struct xdp_md, data_end)),
		       [data_off] "i"(__builtin_offsetof(struct xdp_md, data)));
	return len;
}
