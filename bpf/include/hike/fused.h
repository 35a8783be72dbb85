/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fused mode: the run-time support of a script compiled into one program (the C that
 * `hike-fused` generates from a script's linked chains includes this header, then the sources
 * of the programs and the loader with HIKE_FUSED defined, then the chains as C functions).
 *
 * Contract:
 * - The fused code keeps the VM's semantics (docs/vm-semantics.md) step for step: the state
 *   fields user space reads after a run and programs read during it hold what the interpreter
 *   leaves there (packets, verdict, status, result, fault, fault_pc, fault_chain, the program
 *   that ended the packet, prog_calls, redirect_ifindex, the top frame's chain, cfg_flags,
 *   the replay clock), the same execution budget (one unit per instruction, programs free),
 *   the same program-call cap, the same faults by reason with the loader's fail-safe verdict
 *   and their counters, the same chain-run and program-call counters (with HIKE_CFG_STATS),
 *   the same memory (the stack frames of the per-CPU state, with their
 *   written-slot bits) and the same events.
 * - It is not the interpreter: registers are C locals, each instruction is C code, a program
 *   call is a direct call of the program's always-inline body, a chain call a call of the
 *   chain's always-inline function (no recursion: the generator refuses a cycle).
 * - HIKE_CFG_TRACE is not recorded (eclat run --trace needs interpreted mode).
 * - Maps are vm.h's, by name, so the fused program shares them with the interpreted objects.
 */
#pragma once

#ifndef HIKE_FUSED
#error "fused.h is for fused builds: define HIKE_FUSED before including the SDK"
#endif

#include "loader.h"

/* What a chain function returns when the chain returned to its caller; anything else is the
 * packet's verdict (a program ended it, or a fault did). */
#define HIKE_FUSED_GO (-1)

/* What fused code keeps in registers rather than in the state: the budget and program calls
 * left, the configuration's flags, the loader's two verdicts and the packet's metadata (a local
 * of the entry: sdk.h, hike_meta()). */
struct hike_fused_run {
	const struct hike_pkt_meta *meta;
	__u32 budget;
	__u32 prog_calls;
	__u32 flags;
	__u32 default_verdict;
	__u32 failsafe_verdict;
};

/* A fault: recorded and counted as hike_fault() does, with the faulting chain known at build
 * time. Returns the fail-safe verdict. */
static __attribute__((noinline)) int hike_fused_fault(struct hike_vm_state *st, __u32 fault,
						      __u32 pc, __u32 chain, __u32 failsafe)
{
	struct hike_chain_stats *cs;
	__u64 *count;

	st->result = 0;
	st->fault = fault;
	st->fault_pc = pc;
	st->fault_chain = chain;
	st->status = HIKE_STATUS_IDLE;
	st->verdict = failsafe;
	count = bpf_map_lookup_elem(&hike_faults, &fault);
	if (count)
		(*count)++;
	if (chain < HIKE_MAX_CHAINS) {
		cs = bpf_map_lookup_elem(&hike_cstats, &chain);
		if (cs && fault < HIKE_FAULT_MAX)
			cs->faults[fault & (HIKE_FAULT_MAX - 1)]++;
	}
	return failsafe;
}

/* A program ended the packet with `verdict`; no chain returned a result. */
static __always_inline int hike_fused_verdict(struct hike_vm_state *st, int verdict)
{
	st->result = 0;
	st->status = HIKE_STATUS_IDLE;
	st->verdict = verdict;
	return verdict;
}

/* Frame `depth` is entered by chain `chain`: its stack is unwritten, events and faults name the
 * chain, and its run is counted. `counted` is a constant: 0 in a chain's fast twin, which runs
 * only with the counters off (codegen.rs: Twin). */
static __always_inline void hike_fused_enter(struct hike_vm_state *st, struct hike_fused_run *run,
					     __u32 depth, __u32 chain, int counted)
{
	struct hike_frame *f = &st->frames[depth & HIKE_FRAME_MASK];

#ifdef HIKE_FUSED_MEMORY
	f->stack_init = 0;
#endif
	f->chain_id = chain;
	st->depth = depth;
	if (counted && (run->flags & HIKE_CFG_STATS))
		hike_count_chain_run(chain);
}

/* A program call is counted (HIKE_CFG_STATS; `counted` as above) and names the program for its
 * events. */
static __always_inline void hike_fused_prog(struct hike_vm_state *st, struct hike_fused_run *run,
					    __u32 prog, int counted)
{
	st->prog_id = prog;
	if (counted && (run->flags & HIKE_CFG_STATS)) {
		struct hike_prog_stats *ps = bpf_map_lookup_elem(&hike_pstats, &prog);

		if (ps)
			ps->calls++;
	}
}

/* HIKE_HELPER_EVENT from chain `chain`. */
static __always_inline void hike_fused_event(struct hike_vm_state *st, __u32 chain, __u64 r1,
					     __u64 r2, __u64 r3, __u64 r4)
{
	struct hike_event ev = {
		.kind = HIKE_EVENT_CHAIN,
		.chain_id = chain,
		.prog_id = HIKE_NO_ID,
		.code = (__u32)r1,
		.values = { r2, r3, r4, 0 },
		.ts_ns = hike_clock_ns(st),
	};

	/* A full ring drops the event; the chain goes on. */
	bpf_ringbuf_output(&hike_events, &ev, sizeof(ev), 0);
}

/* The state at boot: what user space reads after a run and what programs read during it, as
 * hike_vm_boot() leaves it; the rest of the interpreter's boot is registers here (the run's
 * counters, the loader's verdicts) or does not exist (pc, the current program before the first
 * call, the running status: nothing but the interpreter reads them). */
static __always_inline void hike_fused_start(struct hike_vm_state *st, struct hike_fused_run *run,
					     const struct hike_pkt_meta *meta, __u32 chain_id,
					     __u32 default_verdict, __u32 failsafe_verdict)
{
	struct hike_vm_config *cfg;
	__u32 budget = HIKE_DEFAULT_BUDGET, flags = 0;

	cfg = bpf_map_lookup_elem(&hike_config, &hike_key0);
	if (cfg) {
		if (cfg->budget)
			budget = cfg->budget > HIKE_MAX_BUDGET ? HIKE_MAX_BUDGET : cfg->budget;
		flags = cfg->flags;
		if (flags & HIKE_CFG_CLOCK)
			st->clock_ns = cfg->clock_ns;
	}
	/* Tracing is the interpreter's: a fused program records no calls. */
	flags &= ~HIKE_CFG_TRACE;
#ifdef HIKE_FUSED_META_IN_STATE
	/* A program reads the metadata outside its body (sdk.h): from the state, as interpreted. */
	st->meta = *meta;
#endif
	run->meta = meta;
	run->prog_calls = 0;
	run->flags = flags;
	run->default_verdict = default_verdict;
	run->failsafe_verdict = failsafe_verdict;
#ifdef HIKE_FUSED_LOOPS
	/* Written and read back: a value the verifier does not know. A known budget (the default,
	 * or the clamp) would make it walk a budget-bound loop step by step, 65536 times or more,
	 * where an unknown one lets it prune each iteration at the loop's may_goto. */
	st->budget = budget;
	run->budget = *(volatile __u32 *)&st->budget;
#else
	/* No chain loops (the generator says so): the verifier walks each path once, whatever it
	 * knows of the budget, and the checks need not wait for a store and a load. The state's
	 * budget is the interpreter's: nothing else reads it. */
	run->budget = budget;
#endif
	st->depth = 0;
	st->fault = HIKE_FAULT_NONE;
	st->fault_pc = 0;
	st->fault_chain = HIKE_NO_ID;
	/* The result: the done path's, or 0 where a program or a fault ends the packet. */
	st->cfg_flags = flags;
	st->redirect_ifindex = 0;
	st->packets++;
	st->frames[0].chain_id = chain_id < HIKE_MAX_CHAINS ? chain_id : HIKE_NO_ID;
#ifdef HIKE_FUSED_MEMORY
	/* Only a chain's loads and stores read the written-slot bits (vm.h: hike_mem_at()). */
	st->frames[0].stack_init = 0;
#endif
}

/* Steps of the generated code. `F` is the run, `st` the state, CHAIN the chain's ID. */
#define HIKE_FUSED_STEP(pc)                                                                        \
	do {                                                                                       \
		if (F->budget == 0)                                                                \
			return hike_fused_fault(st, HIKE_FAULT_BUDGET, (pc), CHAIN,                \
						F->failsafe_verdict);                              \
		F->budget--;                                                                       \
	} while (0)
#define HIKE_FUSED_FAULT(reason, pc)                                                               \
	return hike_fused_fault(st, (reason), (pc), CHAIN, F->failsafe_verdict)
/* A chain starts from a context pointer clang cannot relate to its caller's: otherwise it may
 * compute `&ctx->data_end` once for the loader's parse and every program body after it and keep
 * that pointer, a load through which the verifier refuses at TC ("dereference of modified ctx
 * ptr"). Costs at most a register move. */
#define HIKE_FUSED_CTX_FENCE(ctx) asm volatile("" : "+r"(ctx))
#define HIKE_FUSED_FP(depth) (HIKE_ADDR_STACK + (__u64)((depth) + 1) * HIKE_STACK_SIZE)
