/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Several scripts on one hook: when a script's verdict is one its daemon said proceeds
 * (`eclat load --proceed-on`), the packet goes on to the next script of that interface and
 * hook instead of ending. Not freplace (this kernel refuses it): the script's loader itself,
 * or the program that ends the packet, tail-calls the next script's loader.
 *
 * Contract:
 * - hike_scripts (vm.h): slot -> a script's loader (a program array shared by the instance).
 *   hike_dispatch (vm.h): (ifindex, slot) -> the slot of the next script at that interface.
 * - Every loader entry (HIKE_LOADER) copies its hike_loader_config.dispatch (proceed-on mask,
 *   slot; written by the daemon) into the per-CPU state, where programs find it.
 * - At TC the kernel's own order of the hook's programs (tcx) is the dispatch: a verdict that
 *   proceeds returns TCX_NEXT. The rest of this contract is XDP's.
 * - hike_dispatch_verdict() is called wherever a verdict is final (a loader's return, a
 *   program's terminal verdict, the VM's end in a program). With a mask of 0 (one script, or
 *   the last one) it is one test. Otherwise a verdict in the mask looks up the next script and
 *   tail-calls its loader, which parses the packet again and boots its own chain; without a
 *   next script, or when the tail call fails (the kernel's 33 tail calls per packet are spent),
 *   the verdict stands.
 * - The daemon changes the order with single map writes, in an order where every packet sees
 *   either the old or the new sequence: the next entry before the mask that reaches it, the
 *   slot's loader before the entry that names the slot.
 */
#pragma once

#include "vm.h"

/* A verdict stands: counted for the script of `word`'s slot (hike_verdicts), with
 * HIKE_CFG_STATS. The state lookup is the one every entry made (hike_state_get() is pure). */
static __always_inline void hike_count_verdict(__u32 word, int verdict)
{
	struct hike_vm_state *st = hike_state_get();
	__u32 v = (__u32)verdict < HIKE_VERDICTS - 1 ? (__u32)verdict : HIKE_VERDICTS - 1;
	__u32 key = ((word >> HIKE_DISPATCH_SLOT_SHIFT) & (HIKE_DISPATCH_SLOTS - 1)) * HIKE_VERDICTS + v;
	__u64 *n;

	if (!st || !(st->cfg_flags & HIKE_CFG_STATS))
		return;
	n = bpf_map_lookup_elem(&hike_verdicts, &key);
	if (n)
		*n += 1;
}

/* Whether a verdict needs nothing here: no verdict of the script proceeds (one script, or the
 * last) and verdicts are not counted (no HIKE_CFG_STATS). hike_dispatch_verdict() tests it
 * first and says it is likely, so that clang keeps the packet's way out (a loader's return, the
 * end of a chain in a program) next to where the verdict is made and puts the rest out of line.
 * Without it the common path ran through the count's key and a jump far into the program's
 * image, and every chain that ended in a program paid for the instruction-cache lines:
 * docs/performance-notes.md, "The dispatch's cost when it has nothing to do". */
static __always_inline int hike_dispatch_idle(__u32 word)
{
	struct hike_vm_state *st = hike_state_get();

	return !(word & HIKE_DISPATCH_MASK) && (!st || !(st->cfg_flags & HIKE_CFG_STATS));
}

#ifdef HIKE_CTX_TC

/* At TC the hook runs its programs in order itself (tcx: one link per script, placed by the
 * daemon): a verdict that proceeds returns TCX_NEXT, and the kernel runs the next program of
 * the hook, ours or another tool's. Cheaper than a tail call through a run-time index and a
 * lookup, and foreign programs keep their place among ours. hike_ctx_exit() passes it on. */
static __always_inline int hike_dispatch_verdict(struct xdp_md *ctx, __u32 word, int verdict)
{
	(void)ctx;
	if (__builtin_expect(hike_dispatch_idle(word), 1))
		return verdict == HIKE_CTX_NEXT ? XDP_DROP : verdict;
	if ((__u32)verdict > 7 || !(word & (1u << verdict))) {
		hike_count_verdict(word, verdict);
		/* A value that is no verdict drops, as at XDP; -1 must not reach hike_ctx_exit(),
		 * where it is what a verdict that proceeds returns (TCX_NEXT). */
		return verdict == HIKE_CTX_NEXT ? XDP_DROP : verdict;
	}
	if (word & HIKE_DISPATCH_LEAVES)
		hike_count_verdict(word, verdict);
	return HIKE_CTX_NEXT;
}

#else /* XDP */

/* The interface the packet is at. */
static __always_inline __u32 hike_dispatch_ifindex(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex;
}

/* The slow path: the verdict proceeds; the next script, if there is one, takes the packet.
 * Inline: a subprogram that tail-calls is refused when its callers' stack exceeds 256 bytes. */
static __always_inline int hike_dispatch_next(struct xdp_md *ctx, __u32 word, int verdict)
{
	struct hike_dispatch_key key = {
		.ifindex = hike_dispatch_ifindex(ctx),
		.slot = word >> HIKE_DISPATCH_SLOT_SHIFT,
	};
	__u32 *next = bpf_map_lookup_elem(&hike_dispatch, &key);

	if (next)
		bpf_tail_call(ctx, &hike_scripts, *next);
	hike_count_verdict(word, verdict);
	return verdict;
}

/* The packet's verdict, or no return when it proceeds to the next script. */
static __always_inline int hike_dispatch_verdict(struct xdp_md *ctx, __u32 word, int verdict)
{
	if (__builtin_expect(hike_dispatch_idle(word), 1))
		return verdict;
	if ((__u32)verdict > 7 || !(word & (1u << verdict))) {
		hike_count_verdict(word, verdict);
		return verdict;
	}
	return hike_dispatch_next(ctx, word, verdict);
}

#endif
