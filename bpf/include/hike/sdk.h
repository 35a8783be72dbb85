/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The wizard SDK: turns an XDP program into a HIKe program that chains call as a function.
 *
 *   #include <hike/sdk.h>                       // 1: the SDK
 *   HIKE_PROG(monitor, event)                   // 2: instead of SEC("xdp") int monitor(ctx)
 *
 * The same source builds for XDP and for TC (ctx.h: `-DHIKE_CTX_TC`, where `struct xdp_md` is
 * the `__sk_buff` and the XDP verdicts a program returns are mapped to TC actions at the exit).
 *   {
 *       ... the program's code; `ctx` and the u64 parameters are in scope ...
 *       HIKE_RETURN(0);                         // 3: give a value back to the chain
 *       ... or `return XDP_DROP;` to end the packet with a verdict (a terminal program)
 *   }
 *
 * Contract:
 * - Parameters are u64 (the chain's r1..r5), at most HIKE_MAX_ARGS. Their names and count are
 *   exported in BTF as decl tags on the entry function: "hike_prog" and
 *   "hike_params:<names as written>", which user space reads to check calls.
 * - HIKE_RETURN(v) resumes the calling chain with r0 = v; a plain `return VERDICT` ends the
 *   packet. Both leave the per-CPU state consistent.
 * - A program entered without a chain calling it (e.g. attached directly) counts a BadState
 *   fault and returns XDP_ABORTED.
 * - hike_emit(code, a, b, c) sends an event to user space (eclat trace / the daemon's log),
 *   stamped with hike_now_ns().
 * - hike_now_ns() is the time, in ns: the one way a program reads the clock (never
 *   bpf_ktime_get_ns() directly), so that `eclat run --pcap` replays a capture on its own
 *   timestamps (HIKE_CFG_CLOCK) and a time-dependent program gives the same answers on every run.
 */
#pragma once

#include "vm.h"
#include "dispatch.h"

/* What a program body hands back to its wrapper. */
struct hike_prog_ret {
	__u64 value;
	__u32 resume;
};

static __always_inline int hike_bad_state(void)
{
	__u32 fault = HIKE_FAULT_BAD_STATE;
	__u64 *count = bpf_map_lookup_elem(&hike_faults, &fault);

	if (count)
		(*count)++;
	return XDP_ABORTED;
}

static __always_inline void hike_count_prog_call(struct hike_vm_state *st)
{
	__u32 id = st->prog_id;
	struct hike_prog_stats *ps = bpf_map_lookup_elem(&hike_pstats, &id);

	if (ps)
		ps->calls++;
}

/* The state of the chain that called this program, or NULL if none did. */
static __always_inline struct hike_vm_state *hike_prog_enter(void)
{
	struct hike_vm_state *st = hike_state_get();
	__u32 status;

	/* One word says "called by a chain", "count the call" and "trace it" (vm.h:
	 * hike_status_in_prog()): one load and one compare on the way in. */
	if (!st)
		return 0;
	status = st->status;
	if (status == HIKE_STATUS_IN_PROG)
		return st;
	if (status == HIKE_STATUS_IN_PROG_COUNTED) {
		hike_count_prog_call(st);
		return st;
	}
	/* Traced (eclat run --trace), counted or not; anything else is not a chain's call. */
	if (status != HIKE_STATUS_IN_PROG_TRACED &&
	    status != HIKE_STATUS_IN_PROG_TRACED + HIKE_CFG_STATS)
		return 0;
	if (status & HIKE_CFG_STATS)
		hike_count_prog_call(st);
	hike_trace_call(st, HIKE_TRACE_PROG, st->prog_id, st->depth);
	return st;
}

static __always_inline int hike_prog_finish(struct xdp_md *ctx, struct hike_vm_state *st,
					    struct hike_prog_ret *ret, int verdict)
{
	/* The trace's return record: a load of the line the entry read and a branch not taken,
	 * without HIKE_CFG_TRACE (unlikely: the record is out of line). */
	if (__builtin_expect(st->cfg_flags & HIKE_CFG_TRACE, 0))
		hike_trace_value(st, ret->resume ? HIKE_TRACE_PROG_RET : HIKE_TRACE_PROG_VERDICT,
				 st->prog_id, st->depth, ret->resume ? ret->value : (__u32)verdict);
	if (ret->resume) {
		/* The status stays IN_PROG until hike_vm_run() enters its loop or calls the next
		 * program: no store on the way from one program to the next. */
		int v;

		st->regs[0] = ret->value;
		/* The run first: the dispatch word is read after it, not kept on the stack across. */
		v = hike_vm_run(ctx, st);
		return hike_dispatch_verdict(ctx, st->dispatch, v);
	}
	st->status = HIKE_STATUS_IDLE;
	st->verdict = verdict;
	return hike_dispatch_verdict(ctx, st->dispatch, verdict);
}

/* The time in ns, the one clock of programs: bpf_ktime_get_ns() (CLOCK_MONOTONIC), or the
 * replay clock of `eclat run --pcap` (HIKE_CFG_CLOCK, vm.h: hike_clock_ns()). The state lookup is
 * the one the program's entry made (hike_state_get() is pure), so outside a replay this costs a
 * load and a branch not taken. */
static __always_inline __u64 hike_now_ns(void)
{
	struct hike_vm_state *st = hike_state_get();

	if (!st)
		return bpf_ktime_get_ns();
	return hike_clock_ns(st);
}

/* Sends an event from a program. */
static __always_inline void hike_emit(__u32 code, __u64 a, __u64 b, __u64 c)
{
	struct hike_vm_state *st = hike_state_get();
	struct hike_event ev = {
		.kind = HIKE_EVENT_PROGRAM,
		.chain_id = HIKE_NO_ID,
		.prog_id = HIKE_NO_ID,
		.code = code,
		.values = { a, b, c, 0 },
	};

	if (st) {
		ev.chain_id = st->frames[st->depth & HIKE_FRAME_MASK].chain_id;
		ev.prog_id = st->prog_id;
		ev.ts_ns = hike_clock_ns(st);
	} else {
		ev.ts_ns = bpf_ktime_get_ns();
	}
	bpf_ringbuf_output(&hike_events, &ev, sizeof(ev), 0);
}

/* Redirects the packet to `ifindex` (XDP_REDIRECT) and records the target in the VM state, where
 * `eclat run` and tests read it (BPF_PROG_TEST_RUN does not report it). Returns the verdict. */
static __always_inline int hike_redirect(__u32 ifindex)
{
	struct hike_vm_state *st = hike_state_get();

	if (st)
		st->redirect_ifindex = ifindex;
	return hike_ctx_redirect_verdict(bpf_redirect(ifindex, 0));
}

#ifdef HIKE_FUSED
/* Fused mode: the metadata is a local of the fused program's entry, handed to the loader's and
 * every program's body as the parameter ___hike_meta_p (HIKE_PROG, HIKE_LOADER), so that clang
 * sees the whole packet's metadata and keeps only what the script reads: the parse shrinks to
 * the fields its programs use and nothing is written to the per-CPU state. hike_meta() is that
 * parameter where it is in scope (a body); elsewhere, in a program's own helper function, it is
 * ___hike_meta_outside_body(): the state's copy in a build with HIKE_FUSED_META_IN_STATE (the
 * fused boot then writes it), else a compile-time error, on which crates/hike-fused builds again
 * with HIKE_FUSED_META_IN_STATE. Programs that pass the metadata to their helpers (net.h's _m
 * accessors) keep the fast build. */
#ifdef HIKE_FUSED_META_IN_STATE
static __always_inline const struct hike_pkt_meta *___hike_meta_outside_body(void)
{
	struct hike_vm_state *st = hike_state_get();

	return st ? &st->meta : 0;
}
#else
const struct hike_pkt_meta *___hike_meta_outside_body(void)
	__attribute__((error("hike_meta() outside a program's body (build with the metadata in the state)")));
#endif
/* At file scope the name is this function; in a body the parameter of the same name hides it. */
static __attribute__((unused)) void ___hike_meta_p(void)
{
}
#define hike_meta()                                                                                \
	_Generic((___hike_meta_p),                                                                 \
		const struct hike_pkt_meta *: ___hike_meta_p,                                       \
		struct hike_pkt_meta *: ___hike_meta_p,                                             \
		default: ___hike_meta_outside_body())
#else
/* The loader's packet metadata, for programs (read-only by convention). */
static __always_inline const struct hike_pkt_meta *hike_meta(void)
{
	struct hike_vm_state *st = hike_state_get();

	return st ? &st->meta : 0;
}
#endif

/* ---- Parameter lists, 0 to 5 u64 parameters ------------------------------------------------ */

#define __HIKE_NARGS(...) __HIKE_NARGS_(__VA_OPT__(__VA_ARGS__, ) 5, 4, 3, 2, 1, 0)
#define __HIKE_NARGS_(a, b, c, d, e, N, ...) N
#define __HIKE_CAT(a, b) __HIKE_CAT_(a, b)
#define __HIKE_CAT_(a, b) a##b

#define __HIKE_PARAMS_0()
#define __HIKE_PARAMS_1(a) , __u64 a
#define __HIKE_PARAMS_2(a, b) , __u64 a, __u64 b
#define __HIKE_PARAMS_3(a, b, c) , __u64 a, __u64 b, __u64 c
#define __HIKE_PARAMS_4(a, b, c, d) , __u64 a, __u64 b, __u64 c, __u64 d
#define __HIKE_PARAMS_5(a, b, c, d, e) , __u64 a, __u64 b, __u64 c, __u64 d, __u64 e
#define __HIKE_PARAMS(...) __HIKE_CAT(__HIKE_PARAMS_, __HIKE_NARGS(__VA_ARGS__))(__VA_ARGS__)

#define __HIKE_ARGS_0(st)
#define __HIKE_ARGS_1(st) , st->regs[1]
#define __HIKE_ARGS_2(st) __HIKE_ARGS_1(st), st->regs[2]
#define __HIKE_ARGS_3(st) __HIKE_ARGS_2(st), st->regs[3]
#define __HIKE_ARGS_4(st) __HIKE_ARGS_3(st), st->regs[4]
#define __HIKE_ARGS_5(st) __HIKE_ARGS_4(st), st->regs[5]
#define __HIKE_ARGS(st, ...) __HIKE_CAT(__HIKE_ARGS_, __HIKE_NARGS(__VA_ARGS__))(st)

#ifdef HIKE_FUSED
/* Fused mode (fused.h): the program's source is compiled into a script's one program, which
 * calls the body directly, with the packet's metadata (hike_meta() above); no entry point of its
 * own. HIKE_RETURN(v) then hands v to the fused code through ___hike_ret, a plain
 * `return VERDICT` ends the packet, as below. */
#define HIKE_PROG(NAME, ...)                                                                       \
	static __always_inline int ___hike_body_##NAME(                                           \
		struct xdp_md *ctx, struct hike_prog_ret *___hike_ret,                             \
		const struct hike_pkt_meta *___hike_meta_p __HIKE_PARAMS(__VA_ARGS__))
#else
/* Declares HIKe program NAME with up to 5 u64 parameters; the body follows. */
#define HIKE_PROG(NAME, ...)                                                                       \
	static __always_inline int ___hike_body_##NAME(                                           \
		struct xdp_md *ctx, struct hike_prog_ret *___hike_ret __HIKE_PARAMS(__VA_ARGS__)); \
	__attribute__((btf_decl_tag("hike_prog")))                                                \
	__attribute__((btf_decl_tag("hike_params:" #__VA_ARGS__))) SEC(HIKE_CTX_SEC) int NAME(   \
		struct xdp_md *ctx)                                                                \
	{                                                                                          \
		struct hike_vm_state *___hike_st = hike_prog_enter();                              \
		struct hike_prog_ret ___hike_r = {};                                               \
		int ___hike_verdict;                                                               \
                                                                                                   \
		if (!___hike_st)                                                                   \
			return HIKE_CTX_EXIT(ctx, hike_bad_state());                               \
		___hike_verdict = ___hike_body_##NAME(                                             \
			ctx, &___hike_r __HIKE_ARGS(___hike_st, __VA_ARGS__));                     \
		return HIKE_CTX_EXIT(ctx, hike_prog_finish(ctx, ___hike_st, &___hike_r,            \
							   ___hike_verdict));                      \
	}                                                                                          \
	static __always_inline int ___hike_body_##NAME(                                           \
		struct xdp_md *ctx, struct hike_prog_ret *___hike_ret __HIKE_PARAMS(__VA_ARGS__))
#endif

/* Returns `value` to the calling chain (r0), which continues. */
#define HIKE_RETURN(hike_value_)                                                                         \
	do {                                                                                       \
		___hike_ret->value = (__u64)(hike_value_);                                               \
		___hike_ret->resume = 1;                                                           \
		return 0;                                                                          \
	} while (0)
