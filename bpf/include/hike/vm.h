/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The HIKe VM: an interpreter of chains (eBPF bytecode in the code heap) included in every HIKe
 * program and loader. Semantics: docs/vm-semantics.md; ABI: abi.h.
 *
 * Contract:
 * - hike_vm_boot() starts a chain for a new packet (loaders, through loader.h);
 *   hike_vm_run() interprets until the chain ends, faults, or calls a program. A program call
 *   tail-calls the program, which resumes the VM with hike_vm_run() when it returns a value (the
 *   SDK does this, sdk.h). The VM state lives in the per-CPU map hike_state between tail calls.
 * - Every step is checked at run time, whatever the user-space validator already checked: a
 *   fault returns the loader's fail-safe verdict and is counted by reason.
 * - The interpreter loop is inline, bounded by may_goto, with no function call per instruction
 *   (a call and return cost about 8 ns on this kernel's CPUs; docs/performance-notes.md). All
 *   mutable VM state (registers, pc, depth, budget) lives in the per-CPU map value, so the
 *   verifier sees the same state at every iteration and checks the loop body once: chains of
 *   any length and control flow cost nothing at verification time.
 *
 * Maps are declared here with the names the runtime reuses across objects; do not rename.
 */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "ctx.h"
#include "abi.h"

/* ---- Shared maps (one set per VM instance; the runtime makes every object reuse them) ------- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIKE_MAX_CHAINS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct hike_chain_desc);
} hike_chains SEC(".maps");

/* The code heap is a global in a section of its own: libbpf makes it a one-entry mmapable ARRAY
 * map named after the section (the runtime shares it like the maps above, abi.h), and the VM
 * reaches it by its address, one instruction, where a map lookup is a key load, a bounds check
 * and a NULL test on the way to every instruction fetch. */
struct hike_code_heap hike_code SEC(".bss.hike_code");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, HIKE_MAX_PROGS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} hike_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hike_vm_config);
} hike_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hike_vm_state);
} hike_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HIKE_MAX_CHAINS);
	__type(key, __u32);
	__type(value, struct hike_chain_stats);
} hike_cstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HIKE_MAX_PROGS);
	__type(key, __u32);
	__type(value, struct hike_prog_stats);
} hike_pstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HIKE_FAULT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hike_faults SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} hike_events SEC(".maps");

/* Several scripts on one hook (dispatch.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, HIKE_DISPATCH_SLOTS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} hike_scripts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HIKE_DISPATCH_LINKS);
	__type(key, struct hike_dispatch_key);
	__type(value, __u32);
} hike_dispatch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HIKE_DISPATCH_SLOTS * HIKE_VERDICTS);
	__type(key, __u32);
	__type(value, __u64);
} hike_verdicts SEC(".maps");

/* The key of the one-entry maps (hike_state, hike_config, a loader's), in .rodata: a lookup then
 * reads its key from there instead of storing it to the stack and loading it back on the way to
 * the pointer everything else waits for. */
static const __u32 hike_key0 = 0;

/* ---- Interpreter ----------------------------------------------------------------------------- */

/* Why the interpreter loop stopped. */
#define HIKE_STOP_BUDGET 0 /* the loop ran out of iterations: budget exhausted */
#define HIKE_STOP_DONE 1   /* the top chain returned */
#define HIKE_STOP_PROG 2   /* call the program in st->prog_id */
#define HIKE_STOP_FAULT 3  /* st->fault at st->pc */
#define HIKE_STOP_LOOP 4   /* hike_entry_steps(): the interpreter loop takes over */

#define HIKE_HEAP_MASK (HIKE_CODE_HEAP_INSNS - 1)
#define HIKE_FRAME_MASK (HIKE_MAX_FRAMES - 1)
#define HIKE_STACK_BYTES (HIKE_MAX_FRAMES * HIKE_STACK_SIZE)

_Static_assert((HIKE_CODE_HEAP_INSNS & HIKE_HEAP_MASK) == 0, "code heap must be a power of two");
_Static_assert((HIKE_MAX_FRAMES & HIKE_FRAME_MASK) == 0, "frames must be a power of two");
_Static_assert(sizeof(struct hike_chain_desc) == 8, "descriptor is published with one store");

/* What the interpreter loop works with. The VM's mutable state (pc, depth, budget, registers,
 * frames) is NOT here but in the per-CPU map value: see hike_vm_run(). */
struct hike_run {
	struct xdp_md *ctx;
	struct hike_vm_state *st;
	__u32 stop;  /* HIKE_STOP_*; the reason of a fault is in st->fault */
};

static __always_inline long hike_stop_fault(struct hike_run *run, __u32 fault)
{
	/* The reason goes straight to the state (hike_fault() writes it there anyway): kept in
	 * a local, clang merged the fault paths and loaded every reason into one register before
	 * each check of the step, which took a register from the hot path. Volatile: one store
	 * per fault site, not merged. */
	*(volatile __u32 *)&run->st->fault = fault;
	run->stop = HIKE_STOP_FAULT;
	return 1;
}

static __always_inline __u64 hike_frame_pointer(__u32 depth)
{
	return HIKE_ADDR_STACK + (__u64)(depth + 1) * HIKE_STACK_SIZE;
}

/* The 8-byte descriptor of a chain, read with one load so a concurrent publish by user space is
 * seen whole or not at all. Returns 0 (len 0) for a missing chain. */
static __always_inline __u64 hike_chain_desc_word(__u32 chain_id)
{
	__u64 *desc;

	if (chain_id >= HIKE_MAX_CHAINS)
		return 0;
	desc = bpf_map_lookup_elem(&hike_chains, &chain_id);
	if (!desc)
		return 0;
	return *(volatile __u64 *)desc;
}

#define HIKE_DESC_OFF(w) ((__u32)(w))
#define HIKE_DESC_LEN(w) ((__u32)((w) >> 32) & 0xffff)

/* The VM's clock, the one time source of chains (HIKE_HELPER_KTIME_NS), programs (sdk.h:
 * hike_now_ns()) and events: the replay clock with HIKE_CFG_CLOCK (eclat run --clock pcap), else
 * bpf_ktime_get_ns(). Without the flag it costs a load of cfg_flags (the line of `status`, which
 * a program's entry has just read) and a branch not taken. */
static __always_inline __u64 hike_clock_ns(const struct hike_vm_state *st)
{
	if (st->cfg_flags & HIKE_CFG_CLOCK)
		return st->clock_ns;
	return bpf_ktime_get_ns();
}

/* The next record of the call trace (HIKE_CFG_TRACE), or NULL when the trace is full (the
 * count goes on, so user space says where it was cut). */
static __always_inline struct hike_trace_rec *hike_trace_next(struct hike_vm_state *st, __u32 kind,
							      __u32 id, __u32 depth)
{
	__u32 n = st->trace_len;
	struct hike_trace_rec *r;

	st->trace_len = n + 1;
	if (n >= HIKE_TRACE_MAX)
		return 0;
	r = &st->trace[n & (HIKE_TRACE_MAX - 1)];
	r->kind = kind;
	r->depth = depth;
	r->reserved = 0;
	r->id = id;
	return r;
}

/* Records a chain entry or a program call with its arguments r1..r5. */
static __always_inline void hike_trace_call(struct hike_vm_state *st, __u32 kind, __u32 id,
					    __u32 depth)
{
	struct hike_trace_rec *r = hike_trace_next(st, kind, id, depth);
	int i;

	if (!r)
		return;
#pragma unroll
	for (i = 0; i < HIKE_MAX_ARGS; i++)
		r->v[i] = st->regs[i + 1];
}

/* Records a return (a value, or a program's verdict). */
static __always_inline void hike_trace_value(struct hike_vm_state *st, __u32 kind, __u32 id,
					     __u32 depth, __u64 value)
{
	struct hike_trace_rec *r = hike_trace_next(st, kind, id, depth);
	int i;

	if (!r)
		return;
	r->v[0] = value;
#pragma unroll
	for (i = 1; i < HIKE_MAX_ARGS; i++)
		r->v[i] = 0;
}

_Static_assert((HIKE_TRACE_MAX & (HIKE_TRACE_MAX - 1)) == 0, "trace size must be a power of two");

static __always_inline void hike_count_chain_run(__u32 chain_id)
{
	struct hike_chain_stats *cs = bpf_map_lookup_elem(&hike_cstats, &chain_id);

	if (cs)
		cs->runs++;
}

/* Whether an ALU opcode (with its off/imm) is an instruction, before any register is looked at. */
static __always_inline int hike_alu_valid(__u8 code, __s16 off, __s32 imm)
{
	__u8 op = code & 0xf0;
	int is64 = (code & 0x07) == BPF_ALU64;

	switch (op) {
	case 0xe0:
	case 0xf0:
		return 0;
	case BPF_NEG:
		return !(code & BPF_X);
	case BPF_DIV:
	case BPF_MOD:
		return off == 0 || off == 1;
	case BPF_MOV:
		if (off == 0)
			return 1;
		return (code & BPF_X) && (off == 8 || off == 16 || (off == 32 && is64));
	case BPF_END:
		if (is64 && (code & BPF_X))
			return 0;
		return imm == 16 || imm == 32 || imm == 64;
	default:
		return 1;
	}
}

/* ALU: computes `d op s` on 64 or 32 bits per docs/vm-semantics.md. The opcode passed
 * hike_alu_valid(), so every `off`/`imm` variant not tested below is the one remaining. */
static __always_inline void hike_alu(__u8 code, __s16 off, __s32 imm, __u64 *dp, __u64 s)
{
	__u8 op = code & 0xf0;
	int is64 = (code & 0x07) == BPF_ALU64;
	__u64 d = *dp;
	__u64 r;

	if (!is64) {
		d = (__u32)d;
		s = (__u32)s;
	}
	switch (op) {
	case BPF_ADD:
		r = d + s;
		break;
	case BPF_SUB:
		r = d - s;
		break;
	case BPF_MUL:
		r = d * s;
		break;
	case BPF_OR:
		r = d | s;
		break;
	case BPF_AND:
		r = d & s;
		break;
	case BPF_XOR:
		r = d ^ s;
		break;
	case BPF_LSH:
		r = is64 ? d << (s & 63) : (__u64)((__u32)d << (s & 31));
		break;
	case BPF_RSH:
		r = is64 ? d >> (s & 63) : (__u64)((__u32)d >> (s & 31));
		break;
	case BPF_ARSH:
		r = is64 ? (__u64)((__s64)d >> (s & 63)) : (__u64)(__u32)((__s32)d >> (s & 31));
		break;
	case BPF_NEG:
		r = -d;
		break;
	case BPF_DIV:
		if (off == 0) {
			r = s ? (is64 ? d / s : (__u64)((__u32)d / (__u32)s)) : 0;
		} else { /* off == 1: signed */
			if (is64) {
				if (s == 0)
					r = 0;
				else if ((__s64)s == -1)
					r = -d;
				else
					r = (__u64)((__s64)d / (__s64)s);
			} else {
				if ((__u32)s == 0)
					r = 0;
				else if ((__s32)s == -1)
					r = (__u32)(-(__u32)d);
				else
					r = (__u32)((__s32)d / (__s32)s);
			}
		}
		break;
	case BPF_MOD:
		if (off == 0) {
			r = s ? (is64 ? d % s : (__u64)((__u32)d % (__u32)s)) : d;
		} else { /* off == 1: signed */
			if (is64) {
				if (s == 0)
					r = d;
				else if ((__s64)s == -1)
					r = 0;
				else
					r = (__u64)((__s64)d % (__s64)s);
			} else {
				if ((__u32)s == 0)
					r = d;
				else if ((__s32)s == -1)
					r = 0;
				else
					r = (__u32)((__s32)d % (__s32)s);
			}
		}
		break;
	case BPF_MOV:
		if (off == 0)
			r = s;
		else if (off == 8)
			r = is64 ? (__u64)(__s64)(__s8)s : (__u64)(__u32)(__s32)(__s8)s;
		else if (off == 16)
			r = is64 ? (__u64)(__s64)(__s16)s : (__u64)(__u32)(__s32)(__s16)s;
		else /* 32, ALU64 only */
			r = (__u64)(__s64)(__s32)s;
		break;
	case BPF_END: {
		/* ALU|TO_LE is a truncation on this little-endian machine; ALU|TO_BE and
		 * ALU64|END (bswap) swap. ALU64 with the TO_BE bit is not an instruction. */
		int swap = (code & BPF_X) || is64;

		d = *dp;
		if (imm == 16)
			r = swap ? (__u64)__builtin_bswap16((__u16)d) : (__u64)(__u16)d;
		else if (imm == 32)
			r = swap ? (__u64)__builtin_bswap32((__u32)d) : (__u64)(__u32)d;
		else /* 64 */
			r = swap ? __builtin_bswap64(d) : d;
		*dp = r;
		return;
	}
	default:
		return;
	}
	*dp = is64 ? r : (__u64)(__u32)r;
}

/* Conditional jump: 1 taken, 0 not taken, -1 bad opcode. */
static __always_inline int hike_cond(__u8 op, __u64 a, __u64 b, int is32)
{
	if (is32) {
		a = (__u32)a;
		b = (__u32)b;
	}
	switch (op) {
	case BPF_JEQ:
		return a == b;
	case BPF_JNE:
		return a != b;
	case BPF_JGT:
		return a > b;
	case BPF_JGE:
		return a >= b;
	case BPF_JLT:
		return a < b;
	case BPF_JLE:
		return a <= b;
	case BPF_JSET:
		return (a & b) != 0;
	case BPF_JSGT:
		return is32 ? (__s32)a > (__s32)b : (__s64)a > (__s64)b;
	case BPF_JSGE:
		return is32 ? (__s32)a >= (__s32)b : (__s64)a >= (__s64)b;
	case BPF_JSLT:
		return is32 ? (__s32)a < (__s32)b : (__s64)a < (__s64)b;
	case BPF_JSLE:
		return is32 ? (__s32)a <= (__s32)b : (__s64)a <= (__s64)b;
	default:
		return -1;
	}
}

static __always_inline __u32 hike_size_bytes(__u8 code)
{
	switch (code & 0x18) {
	case BPF_B:
		return 1;
	case BPF_H:
		return 2;
	case BPF_W:
		return 4;
	default:
		return 8;
	}
}

/* Loads `size` bytes at base[a] (a aligned, a + size <= area): masks keep every access in
 * bounds for the verifier without changing an aligned offset. */
static __always_inline __u64 hike_load(const __u8 *base, __u64 a, __u32 area, __u32 size, int sign_extend)
{
	switch (size) {
	case 1:
		a &= area - 1;
		return sign_extend ? (__u64)(__s64) * (const __s8 *)(base + a) : *(const __u8 *)(base + a);
	case 2:
		a &= area - 2;
		return sign_extend ? (__u64)(__s64) * (const __s16 *)(base + a) : *(const __u16 *)(base + a);
	case 4:
		a &= area - 4;
		return sign_extend ? (__u64)(__s64) * (const __s32 *)(base + a) : *(const __u32 *)(base + a);
	default:
		a &= area - 8;
		return *(const __u64 *)(base + a);
	}
}

/* Loads or stores `size` bytes at VM address `addr` (stack frames or the metadata `meta`: the
 * state's for the interpreter, the fused program's own copy in fused mode). */
static __always_inline __u32 hike_mem_at(struct hike_vm_state *st, const struct hike_pkt_meta *meta,
					 __u64 addr, __u32 size, int store, int sign_extend,
					 __u64 *val)
{
	__u64 limit = (__u64)((st->depth & HIKE_FRAME_MASK) + 1) * HIKE_STACK_SIZE;
	__u64 a, v;

	if (addr - HIKE_ADDR_STACK < limit) {
		struct hike_frame *f;
		__u64 bit;

		a = addr - HIKE_ADDR_STACK;
		if (a & (size - 1))
			return HIKE_FAULT_MEM_MISALIGNED;
		a &= HIKE_STACK_BYTES - 1;
		f = &st->frames[(a / HIKE_STACK_SIZE) & HIKE_FRAME_MASK];
		bit = 1ULL << ((a % HIKE_STACK_SIZE) / 8);
		if (store) {
			if (!(f->stack_init & bit)) {
				/* First write to this slot since frame entry: clear it so the bytes
				 * a narrow store leaves alone cannot hold an earlier packet's data. */
				*(__u64 *)&st->stack[a & (HIKE_STACK_BYTES - 8)] = 0;
				f->stack_init |= bit;
			}
			v = *val;
			switch (size) {
			case 1:
				*(__u8 *)&st->stack[a & (HIKE_STACK_BYTES - 1)] = (__u8)v;
				break;
			case 2:
				*(__u16 *)&st->stack[a & (HIKE_STACK_BYTES - 2)] = (__u16)v;
				break;
			case 4:
				*(__u32 *)&st->stack[a & (HIKE_STACK_BYTES - 4)] = (__u32)v;
				break;
			default:
				*(__u64 *)&st->stack[a & (HIKE_STACK_BYTES - 8)] = v;
			}
			return 0;
		}
		if (!(f->stack_init & bit))
			return HIKE_FAULT_STACK_UNINIT;
		*val = hike_load(st->stack, a, HIKE_STACK_BYTES, size, sign_extend);
		return 0;
	}
	if (addr - HIKE_ADDR_META < sizeof(struct hike_pkt_meta)) {
		a = addr - HIKE_ADDR_META;
		if (a & (size - 1))
			return HIKE_FAULT_MEM_MISALIGNED;
		if (store)
			return HIKE_FAULT_MEM_OUT_OF_BOUNDS;
		*val = hike_load((const __u8 *)meta, a, sizeof(struct hike_pkt_meta), size, sign_extend);
		return 0;
	}
	return HIKE_FAULT_MEM_OUT_OF_BOUNDS;
}

static __always_inline __u32 hike_mem(struct hike_vm_state *st, __u64 addr, __u32 size, int store,
				      int sign_extend, __u64 *val)
{
	return hike_mem_at(st, &st->meta, addr, size, store, sign_extend, val);
}

_Static_assert(sizeof(struct hike_pkt_meta) == 32, "metadata mask assumes 32 bytes");

/* `off`, hidden from the compiler, for hike_pkt_access() below: where it knows the offset
 * (fused code, where it may be the packet's length minus a constant; at TC, where the bounds
 * check there stops at the mask), it would drop the mask, or rewrite `p + size` as
 * `data + (off + size)`, a pointer the verifier cannot relate to `p` (the fused build of random
 * chains at TC was refused so). It costs fused code with a constant offset the mask's `and`. */
static __always_inline __u64 hike_pkt_opaque_off(__u64 off)
{
	barrier_var(off);
	return off;
}

/* pkt_load / pkt_store: big-endian fields at a byte offset, bounds-checked. */
static __always_inline __u32 hike_pkt_access(struct xdp_md *ctx, __u64 off, __u64 size, int store,
					     __u64 *val)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *p;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return HIKE_FAULT_BAD_HELPER_ARG;
	if (off > HIKE_CTX_PKT_OFF_MAX || off + size > (__u64)(end - data))
		return HIKE_FAULT_PKT_OUT_OF_BOUNDS;
	/* A linear XDP frame is smaller than 16 KiB, so the mask changes no offset that passed the
	 * check above; it bounds the pointer tightly enough for the verifier to accept the
	 * end-of-packet comparisons below, which can no longer fail. At TC the check above stops
	 * at the mask (ctx.h). */
	p = data + (hike_pkt_opaque_off(off) & HIKE_CTX_PKT_OFF_MASK);
	/* The end-of-packet comparisons below must be made on `p` itself: the verifier gives a
	 * checked range only to the pointer compared (and its copies). */
	barrier_var(p);
	switch (size) {
	case 1:
		if ((void *)(p + 1) > end)
			return HIKE_FAULT_PKT_OUT_OF_BOUNDS;
		if (store)
			*p = (__u8)*val;
		else
			*val = *p;
		break;
	case 2:
		if ((void *)(p + 2) > end)
			return HIKE_FAULT_PKT_OUT_OF_BOUNDS;
		if (store)
			*(__u16 *)p = bpf_htons((__u16)*val);
		else
			*val = bpf_ntohs(*(__u16 *)p);
		break;
	case 4:
		if ((void *)(p + 4) > end)
			return HIKE_FAULT_PKT_OUT_OF_BOUNDS;
		if (store)
			*(__u32 *)p = bpf_htonl((__u32)*val);
		else
			*val = bpf_ntohl(*(__u32 *)p);
		break;
	default:
		if ((void *)(p + 8) > end)
			return HIKE_FAULT_PKT_OUT_OF_BOUNDS;
		if (store)
			*(__u64 *)p = __builtin_bswap64(*val);
		else
			*val = __builtin_bswap64(*(__u64 *)p);
	}
	return 0;
}

static __always_inline __u32 hike_helper(struct hike_run *run, __s32 id)
{
	struct hike_vm_state *st = run->st;
	struct xdp_md *ctx = run->ctx;
	__u64 v = 0;
	__u32 fault;

	switch (id) {
	case HIKE_HELPER_PKT_LOAD:
		fault = hike_pkt_access(ctx, st->regs[1], st->regs[2], 0, &v);
		if (fault)
			return fault;
		break;
	case HIKE_HELPER_PKT_STORE:
		v = st->regs[3];
		fault = hike_pkt_access(ctx, st->regs[1], st->regs[2], 1, &v);
		if (fault)
			return fault;
		v = 0;
		break;
	case HIKE_HELPER_PKT_LEN:
		v = hike_ctx_pkt_len(ctx);
		break;
	case HIKE_HELPER_KTIME_NS:
		v = hike_clock_ns(st);
		break;
	case HIKE_HELPER_EVENT: {
		struct hike_event ev = {
			.kind = HIKE_EVENT_CHAIN,
			.chain_id = st->frames[st->depth & HIKE_FRAME_MASK].chain_id,
			.prog_id = HIKE_NO_ID,
			.code = (__u32)st->regs[1],
			.values = { st->regs[2], st->regs[3], st->regs[4], 0 },
			.ts_ns = hike_clock_ns(st),
		};

		/* A full ring drops the event; the chain goes on. */
		bpf_ringbuf_output(&hike_events, &ev, sizeof(ev), 0);
		break;
	}
	case HIKE_HELPER_RANDOM:
		v = bpf_get_prandom_u32();
		break;
	default:
		return HIKE_FAULT_BAD_HELPER;
	}
	st->regs[0] = v;
	return 0;
}

/* Whether `raw` is JMP|CALL with src HIKE_CALL_PROG: a program call. */
static __always_inline int hike_is_prog_call(__u64 raw)
{
	return ((__u32)raw & 0xf0ff) == ((HIKE_CALL_PROG << 12) | BPF_JMP | BPF_CALL);
}

/* Whether `raw` is `if rX == imm` or `if rX != imm` (JMP|JEQ|K, JMP|JNE|K). */
static __always_inline int hike_is_jeq_jne_k(__u64 raw)
{
	return ((__u32)raw & 0xbf) == (BPF_JMP | BPF_JEQ | BPF_K);
}

/* The pc after `if rX ==/!= imm` at `pc` (hike_is_jeq_jne_k()), rX holding `val`: K is imm
 * sign-extended; the target is checked at the next step. Bit 6 is JNE. Two predictable branches:
 * clang turned the one-expression form (eq ^ jne) into a dozen moves through callee-saved
 * registers and the stack. */
static __always_inline __u32 hike_jeq_jne_k_next(__u64 raw, __u64 val, __u32 pc)
{
	__u64 imm = (__u64)(__s64)(__s32)(raw >> 32);

	if ((__u32)raw & 0x40) {
		if (val != imm)
			pc += (__s16)(raw >> 16);
	} else if (val == imm) {
		pc += (__s16)(raw >> 16);
	}
	return pc + 1;
}

/* One instruction. Returns 0 to go on, 1 to stop the loop (run->stop says why). */
static __always_inline long hike_step(struct hike_run *run)
{
	struct hike_vm_state *st = run->st;
	__u32 code_off = st->code_off, code_len = st->code_len;
	__u32 pc = st->pc;
	__u64 raw, s;
	__u8 code, dst, src, cls;
	__s16 off;
	__s32 imm;
	__u32 fault;

	if (pc >= code_len)
		return hike_stop_fault(run, HIKE_FAULT_BAD_JUMP);
	raw = hike_code.insns[(code_off + pc) & HIKE_HEAP_MASK];
	code = raw & 0xff;
	/* Fast path for the most frequent instruction of compiled chains: a program call. Same
	 * checks, same order as the general path below. */
	if (hike_is_prog_call(raw)) {
		imm = (__s32)(raw >> 32);
		if (st->prog_calls >= HIKE_MAX_PROG_CALLS)
			return hike_stop_fault(run, HIKE_FAULT_PROG_CALL_CAP);
		if ((__u32)imm >= HIKE_MAX_PROGS)
			return hike_stop_fault(run, HIKE_FAULT_NO_PROG);
		st->prog_calls++;
		st->prog_id = (__u32)imm;
		st->pc = pc + 1;
		run->stop = HIKE_STOP_PROG;
		return 1;
	}
	/* Fast path for `if rX == imm` / `if rX != imm`, the test of a program's result: same
	 * checks as the general path (dst > 10 faults). */
	if (hike_is_jeq_jne_k(raw)) {
		dst = (raw >> 8) & 0x0f;
		if (dst > 10)
			return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
		st->pc = hike_jeq_jne_k_next(raw, st->regs[dst], pc);
		return 0;
	}
	/* Fast path for the top chain's `exit` (the general path handles deeper frames). */
	if (code == (BPF_JMP | BPF_EXIT) && (st->depth & HIKE_FRAME_MASK) == 0) {
		st->result = st->regs[0];
		run->stop = HIKE_STOP_DONE;
		return 1;
	}
	dst = (raw >> 8) & 0x0f;
	src = (raw >> 12) & 0x0f;
	off = (__s16)(raw >> 16);
	imm = (__s32)(raw >> 32);
	cls = code & 0x07;

	switch (cls) {
	case BPF_ALU:
	case BPF_ALU64: {
		__u8 op = code & 0xf0;

		/* Opcode checks that need no register come first (docs/vm-semantics.md). */
		if (!hike_alu_valid(code, off, imm))
			return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
		if (dst >= 10)
			return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
		if ((code & BPF_X) && op != BPF_END && op != BPF_NEG) {
			if (src > 10)
				return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
			s = st->regs[src];
		} else {
			s = (__u64)(__s64)imm;
		}
		hike_alu(code, off, imm, &st->regs[dst], s);
		st->pc = pc + 1;
		return 0;
	}
	case BPF_JMP:
	case BPF_JMP32: {
		__u8 op = code & 0xf0;
		int taken;

		if (op == BPF_JA) {
			if (code & BPF_X)
				return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
			st->pc = pc + 1 + (cls == BPF_JMP32 ? imm : off);
			return 0;
		}
		if (op == BPF_CALL || op == BPF_EXIT) {
			if (cls == BPF_JMP32 || (code & BPF_X))
				return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
			if (op == BPF_EXIT) {
				__u32 depth = st->depth & HIKE_FRAME_MASK;
				struct hike_frame *f;

				if (depth == 0) {
					st->result = st->regs[0];
					run->stop = HIKE_STOP_DONE;
					return 1;
				}
				f = &st->frames[depth];
				if (__builtin_expect(st->cfg_flags & HIKE_CFG_TRACE, 0))
					hike_trace_value(st, HIKE_TRACE_CHAIN_RET, f->chain_id, depth,
							 st->regs[0]);
				st->regs[6] = f->saved_regs[0];
				st->regs[7] = f->saved_regs[1];
				st->regs[8] = f->saved_regs[2];
				st->regs[9] = f->saved_regs[3];
				st->pc = f->ret_pc;
				depth = (depth - 1) & HIKE_FRAME_MASK;
				st->depth = depth;
				st->regs[10] = hike_frame_pointer(depth);
				st->code_off = st->frames[depth].code_off;
				st->code_len = st->frames[depth].code_len;
				return 0;
			}
			/* BPF_CALL */
			if (src == HIKE_CALL_HELPER) {
				fault = hike_helper(run, imm);
				if (fault)
					return hike_stop_fault(run, fault);
				st->pc = pc + 1;
				return 0;
			}
			if (src == HIKE_CALL_CHAIN) {
				__u32 depth = st->depth & HIKE_FRAME_MASK;
				__u32 nd = depth + 1;
				struct hike_frame *f;
				__u64 desc;

				if (nd >= HIKE_MAX_FRAMES)
					return hike_stop_fault(run, HIKE_FAULT_CALL_DEPTH);
				desc = hike_chain_desc_word((__u32)imm);
				if (HIKE_DESC_LEN(desc) == 0)
					return hike_stop_fault(run, HIKE_FAULT_NO_CHAIN);
				nd &= HIKE_FRAME_MASK;
				f = &st->frames[nd];
				f->saved_regs[0] = st->regs[6];
				f->saved_regs[1] = st->regs[7];
				f->saved_regs[2] = st->regs[8];
				f->saved_regs[3] = st->regs[9];
				f->stack_init = 0;
				f->code_off = HIKE_DESC_OFF(desc);
				f->code_len = HIKE_DESC_LEN(desc);
				f->chain_id = (__u32)imm;
				f->ret_pc = pc + 1;
				st->depth = nd;
				st->regs[10] = hike_frame_pointer(nd);
				st->code_off = f->code_off;
				st->code_len = f->code_len;
				st->pc = 0;
				if (st->cfg_flags & HIKE_CFG_STATS)
					hike_count_chain_run((__u32)imm);
				if (__builtin_expect(st->cfg_flags & HIKE_CFG_TRACE, 0))
					hike_trace_call(st, HIKE_TRACE_CHAIN, (__u32)imm, nd);
				return 0;
			}
			if (src == HIKE_CALL_PROG) {
				if (st->prog_calls >= HIKE_MAX_PROG_CALLS)
					return hike_stop_fault(run, HIKE_FAULT_PROG_CALL_CAP);
				if ((__u32)imm >= HIKE_MAX_PROGS)
					return hike_stop_fault(run, HIKE_FAULT_NO_PROG);
				st->prog_calls++;
				st->prog_id = (__u32)imm;
				st->pc = pc + 1;
				run->stop = HIKE_STOP_PROG;
				return 1;
			}
			return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
		}
		if (op == 0xe0 || op == 0xf0)
			return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
		if (dst > 10)
			return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
		if (code & BPF_X) {
			if (src > 10)
				return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
			s = st->regs[src];
		} else {
			s = (__u64)(__s64)imm;
		}
		taken = hike_cond(op, st->regs[dst], s, cls == BPF_JMP32);
		if (taken < 0)
			return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
		st->pc = pc + 1 + (taken ? off : 0);
		return 0;
	}
	case BPF_LDX: {
		__u8 mode = code & 0xe0;
		__u64 v = 0;

		if (mode != BPF_MEM && !(mode == 0x80 && (code & 0x18) != BPF_DW))
			return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
		if (dst >= 10 || src > 10)
			return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
		fault = hike_mem(st, st->regs[src] + (__s64)off, hike_size_bytes(code), 0,
				 mode == 0x80, &v);
		if (fault)
			return hike_stop_fault(run, fault);
		st->regs[dst] = v;
		st->pc = pc + 1;
		return 0;
	}
	case BPF_ST:
	case BPF_STX: {
		__u64 v;

		if ((code & 0xe0) != BPF_MEM)
			return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
		if (dst > 10)
			return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
		if (cls == BPF_STX) {
			if (src > 10)
				return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
			v = st->regs[src];
		} else {
			v = (__u64)(__s64)imm;
		}
		fault = hike_mem(st, st->regs[dst] + (__s64)off, hike_size_bytes(code), 1, 0, &v);
		if (fault)
			return hike_stop_fault(run, fault);
		st->pc = pc + 1;
		return 0;
	}
	case BPF_LD: {
		__u64 next;

		if (code != (BPF_LD | BPF_IMM | BPF_DW) || src != 0)
			return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
		if (dst >= 10)
			return hike_stop_fault(run, HIKE_FAULT_BAD_REGISTER);
		if (pc + 1 >= code_len)
			return hike_stop_fault(run, HIKE_FAULT_BAD_JUMP);
		next = hike_code.insns[(code_off + pc + 1) & HIKE_HEAP_MASK];
		/* Second slot: code, registers and offset must be zero. */
		if (next & 0xffffffffULL)
			return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
		st->regs[dst] = (__u64)(__u32)imm | (next & 0xffffffff00000000ULL);
		st->pc = pc + 2;
		return 0;
	}
	}
	return hike_stop_fault(run, HIKE_FAULT_BAD_OPCODE);
}

/* The steps a chain most often starts with when the VM is entered (booted by a loader, resumed by
 * a program): `if rX ==/!= imm` (the test of the result just returned), then a program `call` or
 * the top chain's `exit`. They run in straight-line code before the interpreter loop, whose entry
 * costs more than they do (locals spilled to the stack, the step's general decoding): a chain
 * calling programs one after the other never enters the loop. Every field is written with
 * the width it is read with: a load that spans two stores, or half of a wider one, is not
 * forwarded from the store buffer and waits for the stores to reach the cache (one 8-byte store
 * of pc and budget cost 0.4 ns per call; docs/performance-notes.md).
 *
 * Each step is done whole, with the same state changes as a step of the loop (budget, pc, call
 * count), or not started: a check that fails (budget, jump target, register, call cap, program
 * ID) or an instruction of another kind returns HIKE_STOP_LOOP, and the loop does that step
 * again from the start, faulting as it would have. Returns HIKE_STOP_PROG (st->prog_id set),
 * HIKE_STOP_DONE (st->result set) or HIKE_STOP_LOOP. */
static __always_inline __u32 hike_entry_steps(struct hike_vm_state *st)
{
	__u32 pc = st->pc, budget = st->budget, calls, imm, dst;
	__u64 raw;

	if (budget == 0 || pc >= st->code_len)
		return HIKE_STOP_LOOP;
	raw = hike_code.insns[(st->code_off + pc) & HIKE_HEAP_MASK];
	/* A call is tested first: the most frequent instruction here. */
	if (hike_is_prog_call(raw))
		goto call;
	if (!hike_is_jeq_jne_k(raw))
		goto exit;
	dst = ((__u32)raw >> 8) & 0x0f;
	if (dst > 10)
		return HIKE_STOP_LOOP;
	pc = hike_jeq_jne_k_next(raw, st->regs[dst], pc);
	budget -= 1;
	st->pc = pc;
	st->budget = budget;
	if (budget == 0 || pc >= st->code_len)
		return HIKE_STOP_LOOP;
	raw = hike_code.insns[(st->code_off + pc) & HIKE_HEAP_MASK];
	if (!hike_is_prog_call(raw))
		goto exit;
call:
	calls = st->prog_calls;
	imm = (__u32)(raw >> 32);
	if (calls >= HIKE_MAX_PROG_CALLS || imm >= HIKE_MAX_PROGS)
		return HIKE_STOP_LOOP;
	st->pc = pc + 1;
	st->budget = budget - 1;
	st->prog_calls = calls + 1;
	st->prog_id = imm;
	return HIKE_STOP_PROG;
exit:
	if (((__u32)raw & 0xff) == (BPF_JMP | BPF_EXIT) && (st->depth & HIKE_FRAME_MASK) == 0) {
		st->budget = budget - 1;
		st->result = st->regs[0];
		return HIKE_STOP_DONE;
	}
	return HIKE_STOP_LOOP;
}

/* may_goto: bounds a loop with a hidden counter that the JIT keeps on the stack, so the verifier
 * checks the loop body like an open-coded iterator; no function call per iteration. */
#define hike_cond_break(expr)                                                                      \
	({                                                                                         \
		__label__ l_break, l_continue;                                                     \
		asm volatile goto("may_goto %l[l_break]" :::: l_break);                           \
		goto l_continue;                                                                   \
	l_break:                                                                                   \
		expr;                                                                              \
	l_continue:;                                                                               \
	})

/* Records a fault and returns the fail-safe verdict. */
static __always_inline int hike_fault(struct hike_vm_state *st, __u32 fault, __u32 pc)
{
	__u32 chain = st->frames[st->depth & HIKE_FRAME_MASK].chain_id;
	struct hike_chain_stats *cs;
	__u64 *count;

	st->fault = fault;
	st->fault_pc = pc;
	st->fault_chain = chain;
	st->status = HIKE_STATUS_IDLE;
	st->verdict = st->failsafe_verdict;
	count = bpf_map_lookup_elem(&hike_faults, &fault);
	if (count)
		(*count)++;
	if (chain < HIKE_MAX_CHAINS) {
		cs = bpf_map_lookup_elem(&hike_cstats, &chain);
		if (cs && fault < HIKE_FAULT_MAX)
			cs->faults[fault & (HIKE_FAULT_MAX - 1)]++;
	}
	return st->failsafe_verdict;
}

/* A tail call through a constant index: the JIT patches it into a direct jump (≈2 ns), where a
 * run-time index costs an indirect jump with retpoline (≈11-23 ns on this kernel). Inline asm
 * keeps clang from merging the call sites of a switch back into one with a variable index. */
static __always_inline void hike_tail_call_static(struct xdp_md *ctx, const __u32 slot)
{
	asm volatile("r1 = %[ctx]\n\t"
		     "r2 = %[map] ll\n\t"
		     "r3 = %[slot]\n\t"
		     "call 12\n\t"
		     :
		     : [ctx] "r"(ctx), [map] "i"(&hike_progs), [slot] "i"(slot)
		     : "r0", "r1", "r2", "r3", "r4", "r5");
}

#define HIKE_TC_CASE(n)                                                                            \
	case (n):                                                                                  \
		hike_tail_call_static(ctx, (n));                                                   \
		break;
#define HIKE_TC_CASE4(n) HIKE_TC_CASE(n) HIKE_TC_CASE(n + 1) HIKE_TC_CASE(n + 2) HIKE_TC_CASE(n + 3)
#define HIKE_TC_CASE16(n)                                                                          \
	HIKE_TC_CASE4(n) HIKE_TC_CASE4(n + 4) HIKE_TC_CASE4(n + 8) HIKE_TC_CASE4(n + 12)
#define HIKE_TC_CASE64(n)                                                                          \
	HIKE_TC_CASE16(n) HIKE_TC_CASE16(n + 16) HIKE_TC_CASE16(n + 32) HIKE_TC_CASE16(n + 48)

_Static_assert(HIKE_MAX_PROGS == 256, "the dispatch switch below has 256 cases");

/* Tail-calls program `id`; returns only if its slot is empty. Program IDs are allocated from 0,
 * so the first 16 have a switch of their own: five compares to reach them instead of eight
 * (clang lowers a switch to a binary tree; BPF has no jump tables). */
static __always_inline void hike_call_prog(struct xdp_md *ctx, __u32 id)
{
	if (id < 16) {
		switch (id) {
			HIKE_TC_CASE16(0)
		}
		return;
	}
	switch (id) {
		HIKE_TC_CASE16(16)
		HIKE_TC_CASE16(32)
		HIKE_TC_CASE16(48)
		HIKE_TC_CASE64(64)
		HIKE_TC_CASE64(128)
		HIKE_TC_CASE64(192)
	}
}

/* The status while a program runs: whether it counts its call, and whether it records it in the
 * trace, is in the same word it checks (so the call costs nothing more without either). */
static __always_inline __u32 hike_status_in_prog(__u32 cfg_flags)
{
	_Static_assert(HIKE_STATUS_IN_PROG_COUNTED == HIKE_STATUS_IN_PROG + HIKE_CFG_STATS,
		       "the counted status is the flag added");
	_Static_assert(HIKE_STATUS_IN_PROG_TRACED == HIKE_STATUS_IN_PROG + HIKE_CFG_TRACE,
		       "the traced status is the flag added");
	return HIKE_STATUS_IN_PROG + (cfg_flags & (HIKE_CFG_STATS | HIKE_CFG_TRACE));
}

/* The top chain returned: the loader's default verdict (the interpreter's from the state, fused
 * mode's from its run). The status says so (the verdict's cause for eclat run) at no cost: it is
 * the store of an idle status either way. */
static __always_inline int hike_vm_returned(struct hike_vm_state *st, __u32 default_verdict)
{
	st->status = HIKE_STATUS_RETURNED;
	st->verdict = default_verdict;
	return default_verdict;
}

/* hike_vm_returned() with the verdict the boot left in the state. */
static __always_inline int hike_vm_done(struct hike_vm_state *st)
{
	return hike_vm_returned(st, st->default_verdict);
}

/* The interpreter loop, from st->pc until the chain ends, faults, or calls a program. Returns
 * why it stopped (HIKE_STOP_*), with the status back to hike_status_in_prog() when it stopped
 * at a program call. */
static __always_inline __u32 hike_vm_loop(struct xdp_md *ctx, struct hike_vm_state *st)
{
	struct hike_run run = {
		.ctx = ctx,
		.st = st,
		.stop = HIKE_STOP_BUDGET,
	};

	st->status = HIKE_STATUS_RUNNING;
	/* All mutable VM state stays in the per-CPU map value (not in locals), so the verifier
	 * sees the same state at every iteration and checks the body once. */
	for (;;) {
		if (st->budget == 0) {
			run.stop = HIKE_STOP_BUDGET;
			break;
		}
		st->budget--;
		if (hike_step(&run))
			break;
		hike_cond_break({
			run.stop = HIKE_STOP_BUDGET;
			break;
		});
	}
	if (run.stop == HIKE_STOP_PROG)
		st->status = hike_status_in_prog(st->cfg_flags);
	return run.stop;
}

/* Runs the chain from st->pc: hike_entry_steps(), then the loop if they could not finish. The
 * caller has set st->status to hike_status_in_prog() (a program about to resume its chain, or a
 * loader booting one), so a program called from the entry steps is called without another store;
 * the loop sets HIKE_STATUS_RUNNING while it interprets. Does not return when a program is
 * called; returns the packet's verdict otherwise.
 *
 * One dispatch switch serves both paths: each of its 256 tail calls is a site the kernel
 * re-patches whenever the program table changes, and the verifier checks each, so a second
 * switch cost a third more load time. */
static __always_inline int hike_vm_run(struct xdp_md *ctx, struct hike_vm_state *st)
{
	__u32 stop = hike_entry_steps(st);

	if (stop == HIKE_STOP_LOOP) {
		/* New values for ctx and st on the loop's path: the loop keeps them on the stack
		 * (it runs out of registers), and without the barrier clang stored them there at
		 * the top, on the entry steps' path as well. */
		asm volatile("" : "+r"(ctx), "+r"(st));
		stop = hike_vm_loop(ctx, st);
	}
	switch (stop) {
	case HIKE_STOP_PROG:
		hike_call_prog(ctx, st->prog_id);
		/* Only reached when the slot is empty (the cap was checked by the VM). The call
		 * was counted before the tail call could fail: a call of an empty slot is no call
		 * (docs/vm-semantics.md, the reference VM, fused code). */
		st->prog_calls--;
		return hike_fault(st, HIKE_FAULT_NO_PROG, st->pc - 1);
	case HIKE_STOP_DONE:
		return hike_vm_done(st);
	case HIKE_STOP_FAULT:
		return hike_fault(st, st->fault, st->pc);
	default:
		return hike_fault(st, HIKE_FAULT_BUDGET, st->pc);
	}
}

/* The value at key 0 of the one-entry array `map`, or NULL if the map is missing, as an asm
 * statement that is not volatile and clobbers no memory: clang treats it as a pure function and
 * makes every such lookup of one program one, which it cannot do with bpf_map_lookup_elem(), a
 * call it knows nothing about. For maps whose entry does not move during a program run (the
 * per-CPU state: the program stays on its CPU; a loader's configuration). */
#define hike_lookup0_pure(map)                                                                     \
	({                                                                                         \
		void *___hike_v;                                                                   \
                                                                                                   \
		asm("r1 = %[m] ll\n\t"                                                             \
		    "r2 = %[k] ll\n\t"                                                             \
		    "call 1\n\t" /* bpf_map_lookup_elem, inlined by the verifier (array) */        \
		    "%[v] = r0"                                                                     \
		    : [v] "=r"(___hike_v)                                                          \
		    : [m] "i"(&(map)), [k] "i"(&hike_key0)                                         \
		    : "r0", "r1", "r2", "r3", "r4", "r5");                                         \
		___hike_v;                                                                         \
	})

/* This CPU's VM state, or NULL if the map is missing. Pure (hike_lookup0_pure()): every lookup
 * of one program (the SDK's entry, hike_meta(), hike_redirect(), a loader's parse and boot) is
 * one. */
static __always_inline struct hike_vm_state *hike_state_get(void)
{
	return hike_lookup0_pure(hike_state);
}

/* Starts chain `chain_id` for a new packet with arguments args[0..4] (r1..r5). The caller
 * (a loader) has filled st->meta. Returns the packet's verdict, or does not return (tail call). */
static __always_inline int hike_vm_boot(struct xdp_md *ctx, struct hike_vm_state *st, __u32 chain_id,
					const __u64 *args, __u32 default_verdict,
					__u32 failsafe_verdict)
{
	struct hike_vm_config *cfg;
	__u32 budget = HIKE_DEFAULT_BUDGET, flags = 0;
	__u64 desc;
	int i;

	cfg = bpf_map_lookup_elem(&hike_config, &hike_key0);
	if (cfg) {
		if (cfg->budget)
			budget = cfg->budget > HIKE_MAX_BUDGET ? HIKE_MAX_BUDGET : cfg->budget;
		flags = cfg->flags;
		if (flags & HIKE_CFG_CLOCK)
			st->clock_ns = cfg->clock_ns;
	}
	/* r0..r10 only: r11..r15 exist so a register number can be masked, but every access checks
	 * the number first (> 10 faults), so they are never read or written. */
#pragma unroll
	for (i = 0; i < 11; i++)
		st->regs[i] = 0;
#pragma unroll
	for (i = 0; i < HIKE_MAX_ARGS; i++)
		st->regs[i + 1] = args[i];
	st->regs[10] = hike_frame_pointer(0);
	st->pc = 0;
	st->depth = 0;
	st->budget = budget;
	st->prog_calls = 0;
	st->status = hike_status_in_prog(flags); /* see hike_vm_run() */
	st->prog_id = HIKE_NO_ID;
	st->default_verdict = default_verdict;
	st->failsafe_verdict = failsafe_verdict;
	st->fault = HIKE_FAULT_NONE;
	st->fault_pc = 0;
	st->fault_chain = HIKE_NO_ID;
	st->result = 0;
	st->cfg_flags = flags;
	st->redirect_ifindex = 0;
	st->packets++;
	if (__builtin_expect(flags & HIKE_CFG_TRACE, 0)) {
		st->trace_len = 0;
		hike_trace_call(st, HIKE_TRACE_CHAIN, chain_id, 0);
	}

	st->frames[0].chain_id = chain_id < HIKE_MAX_CHAINS ? chain_id : HIKE_NO_ID;
	st->frames[0].stack_init = 0;
	st->frames[0].ret_pc = 0;
	desc = hike_chain_desc_word(chain_id);
	st->frames[0].code_off = HIKE_DESC_OFF(desc);
	st->frames[0].code_len = HIKE_DESC_LEN(desc);
	st->code_off = HIKE_DESC_OFF(desc);
	st->code_len = HIKE_DESC_LEN(desc);
	if (HIKE_DESC_LEN(desc) == 0)
		return hike_fault(st, HIKE_FAULT_NO_CHAIN, 0);
	if (flags & HIKE_CFG_STATS)
		hike_count_chain_run(chain_id);
	return hike_vm_run(ctx, st);
}
