/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HIKe VM ABI: the one source of truth shared by the eBPF VM (vm.h), the wizard SDK (sdk.h)
 * and user space. The Rust mirror is `crates/hike-isa/src/abi.rs`; the test `abi_agrees_with_c`
 * compiles this header with the host C compiler and checks every value, size and offset below.
 *
 * Contract:
 * - Bytecode is the eBPF instruction encoding (struct bpf_insn, 8 bytes, little endian).
 *   `call` uses src_reg to say what is called (HIKE_CALL_*) and imm for the helper, chain or
 *   program ID. Arguments are r1..r5, the result is r0; r6..r9 are preserved across a chain
 *   call; r1..r5 are undefined after any call; r10 is the read-only frame pointer.
 * - Memory a chain can address with LDX/ST/STX: the stack frames of the active chains
 *   (HIKE_ADDR_STACK), and the read-only packet metadata written by the loader
 *   (HIKE_ADDR_META). Accesses must be naturally aligned. Packet bytes are reached through
 *   helpers, in network byte order converted to host order.
 * - Limits are compile-time constants of every HIKe object; the execution budget is a
 *   run-time setting (struct hike_vm_config).
 * - Every step is checked; a fault aborts the chain with the loader's fail-safe verdict and is
 *   counted by reason (enum hike_fault) per chain and globally.
 *
 * This header only declares; it holds no code and no maps (those are in vm.h).
 */
#pragma once

#include <linux/types.h>

/* ---- Version -------------------------------------------------------------------------------- */

/* The version of this ABI: raised by every change that makes objects, chains or maps built
 * against the old header wrong for the new one (a value, size, offset or meaning). eclatd and
 * eclat print it, and eclatd refuses a client of another version. */
#define HIKE_ABI_VERSION 1

/* ---- Limits -------------------------------------------------------------------------------- */

/* Instructions in one chain (LD_IMM64 counts as two). */
#define HIKE_MAX_CHAIN_INSNS 4096
/* Nested chain frames (the top chain is frame 0). */
#define HIKE_MAX_FRAMES 16
/* Bytes of stack per frame; r10 points one past its end. */
#define HIKE_STACK_SIZE 512
/* 8-byte stack slots per frame: one bit each in hike_frame.stack_init. */
#define HIKE_STACK_SLOTS (HIKE_STACK_SIZE / 8)
/* Arguments of a program or chain call (r1..r5). */
#define HIKE_MAX_ARGS 5
/* Chain IDs are 0..HIKE_MAX_CHAINS-1. */
#define HIKE_MAX_CHAINS 1024
/* Program IDs are 0..HIKE_MAX_PROGS-1 (slots of the program table). */
#define HIKE_MAX_PROGS 256
/* Instructions in the shared code heap (one 4 MiB map value); a power of two. */
#define HIKE_CODE_HEAP_INSNS (1u << 19)
/* Program calls per packet: the kernel allows 33 tail calls; the 34th call faults. */
#define HIKE_MAX_PROG_CALLS 33
/* Default execution budget, in executed instructions per packet. */
#define HIKE_DEFAULT_BUDGET 65536
/* Largest budget the VM accepts (the kernel's loop limit, BPF_MAX_LOOPS, which also bounds the
 * interpreter's may_goto loop). */
#define HIKE_MAX_BUDGET (1u << 23)

/* ---- Several scripts on one hook (dispatch.h) ------------------------------------------------ */

/* Script slots of an instance (hike_scripts: slot -> the script's loader). */
#define HIKE_DISPATCH_SLOTS 256
/* Scripts on one interface and hook: the daemon refuses more. */
#define HIKE_DISPATCH_PER_HOOK 64
/* (interface, slot) -> next slot entries of hike_dispatch. */
#define HIKE_DISPATCH_LINKS 4096
/* hike_loader_config.dispatch: the verdicts that proceed to the next script (bit v for verdict v,
 * 0..7) and the script's slot. A script last on every hook it runs at has no verdict that
 * proceeds (mask 0), which costs its packets one test. */
#define HIKE_DISPATCH_MASK 0xffu
#define HIKE_DISPATCH_SLOT_SHIFT 8
/* hike_loader_config.dispatch at TC: the script is the last of its daemon's at the hook, so a
 * verdict that proceeds leaves them (to another tool's program, or the stack) and is counted
 * in hike_verdicts where it proceeds. */
#define HIKE_DISPATCH_LEAVES (1u << 24)

/* hike_verdicts: BPF_MAP_TYPE_PERCPU_ARRAY[HIKE_DISPATCH_SLOTS * HIKE_VERDICTS] of __u64: the
 * packets whose verdict became final in the script of each slot, by verdict (index
 * slot * HIKE_VERDICTS + verdict; a value above 6 counts as 7, "other"). Counted with
 * HIKE_CFG_STATS, where hike_dispatch_verdict() (dispatch.h) lets a verdict stand. */
#define HIKE_VERDICTS 8

/* hike_dispatch's key: the script in slot `slot` at interface `ifindex`. */
struct hike_dispatch_key {
	__u32 ifindex;
	__u32 slot;
};

/* ---- Calls --------------------------------------------------------------------------------- */

/* src_reg of a BPF_JMP|BPF_CALL instruction. */
#define HIKE_CALL_HELPER 0 /* imm: enum hike_helper */
#define HIKE_CALL_CHAIN 1  /* imm: chain ID */
#define HIKE_CALL_PROG 2   /* imm: program ID */

/* VM helpers. Arguments r1..r5, result r0. */
enum hike_helper {
	/* r1 = byte offset, r2 = size (1, 2, 4 or 8) -> r0 = the big-endian field, in host order. */
	HIKE_HELPER_PKT_LOAD = 1,
	/* r1 = byte offset, r2 = size, r3 = value: stores the low `size` bytes big-endian; r0 = 0. */
	HIKE_HELPER_PKT_STORE = 2,
	/* r0 = packet length in bytes. */
	HIKE_HELPER_PKT_LEN = 3,
	/* r0 = the VM's clock in ns: bpf_ktime_get_ns() (CLOCK_MONOTONIC), or the replay clock
	 * with HIKE_CFG_CLOCK (vm.h: hike_clock_ns()). */
	HIKE_HELPER_KTIME_NS = 4,
	/* r1 = code, r2..r4 = values: emits a struct hike_event; r0 = 0 (also when dropped). */
	HIKE_HELPER_EVENT = 5,
	/* r0 = a pseudo-random 32-bit value. */
	HIKE_HELPER_RANDOM = 6,
	HIKE_HELPER_MAX = 7,
};

/* ---- Memory -------------------------------------------------------------------------------- */

/* Frame f's stack spans [HIKE_ADDR_STACK + f * 512, HIKE_ADDR_STACK + (f + 1) * 512); its r10 is
 * the end. A chain may access the frames 0..current (so a pointer can be passed to a callee). */
#define HIKE_ADDR_STACK 0x0000001000000000ULL
/* struct hike_pkt_meta, read-only. */
#define HIKE_ADDR_META 0x0000002000000000ULL

/* What the loader found in the packet, parsed once (offsets from the start of the packet). */
struct hike_pkt_meta {
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u16 eth_proto; /* host order, after VLAN tags; 0 if not Ethernet */
	__u16 l3_off;
	__u16 l4_off;    /* 0 if no L4 header was found */
	__u8 l4_proto;   /* IPPROTO_*, after IPv6 extension headers */
	__u8 flags;      /* HIKE_META_* */
	__u64 user[2];   /* loader-specific */
};

#define HIKE_META_IPV4 0x01
#define HIKE_META_IPV6 0x02
#define HIKE_META_L4 0x04   /* l4_off points at an L4 header (not set for non-first fragments) */
#define HIKE_META_FRAG 0x08 /* the packet is an IPv4 or IPv6 fragment */
#define HIKE_META_VLAN 0x10 /* a VLAN tag (or two) was skipped: l3_off is past them */

/* ---- Faults -------------------------------------------------------------------------------- */

/* Why a chain was aborted. Mirrored by hike_isa::abi::Fault; keep in sync. */
enum hike_fault {
	HIKE_FAULT_NONE = 0,
	HIKE_FAULT_BAD_OPCODE = 1,      /* unknown or unsupported instruction */
	HIKE_FAULT_BAD_REGISTER = 2,    /* register number above 10, or a write to r10 */
	HIKE_FAULT_BAD_JUMP = 3,        /* pc left the chain (jump, LD_IMM64 or fall off the end) */
	HIKE_FAULT_MEM_OUT_OF_BOUNDS = 4, /* load/store outside the active frames or the metadata */
	HIKE_FAULT_MEM_MISALIGNED = 5,  /* access not naturally aligned */
	HIKE_FAULT_STACK_UNINIT = 6,    /* load from a stack slot not written since frame entry */
	HIKE_FAULT_PKT_OUT_OF_BOUNDS = 7, /* packet helper outside the packet */
	HIKE_FAULT_BUDGET = 8,          /* execution budget exhausted */
	HIKE_FAULT_CALL_DEPTH = 9,      /* more than HIKE_MAX_FRAMES nested chains */
	HIKE_FAULT_NO_CHAIN = 10,       /* called or started chain is not loaded */
	HIKE_FAULT_NO_PROG = 11,        /* called program is not loaded */
	HIKE_FAULT_PROG_CALL_CAP = 12,  /* the kernel's tail-call cap: more than 33 program calls */
	HIKE_FAULT_BAD_HELPER = 13,     /* unknown helper ID */
	HIKE_FAULT_BAD_HELPER_ARG = 14, /* helper argument out of range (e.g. size 3) */
	HIKE_FAULT_BAD_STATE = 15,      /* program entered without a chain calling it */
	HIKE_FAULT_MAX = 16,
};

/* ---- Maps (shared by every object of one VM instance) -------------------------------------- */

/* hike_chains: BPF_MAP_TYPE_ARRAY[HIKE_MAX_CHAINS], mmapable. One 8-byte descriptor per chain
 * ID, written by user space with a single aligned 8-byte store, so a packet sees the old or the
 * new chain, never a mix. len == 0 means "no chain". */
struct hike_chain_desc {
	__u32 code_off; /* index of the first instruction in the code heap */
	__u16 len;      /* instructions */
	__u8 nparams;   /* declared parameters (informative; the validator checks call sites) */
	__u8 flags;     /* reserved, 0 */
};

/* hike_code: BPF_MAP_TYPE_ARRAY[1], mmapable: the code heap (declared as the global `hike_code`
 * in section ".bss.hike_code", which libbpf turns into that map). User space writes a new chain
 * version into free instructions before publishing its descriptor, and reuses the instructions
 * of a replaced version only after every packet that could still run it has finished. */
struct hike_code_heap {
	__u64 insns[HIKE_CODE_HEAP_INSNS];
};

/* hike_progs: BPF_MAP_TYPE_PROG_ARRAY[HIKE_MAX_PROGS]: program ID -> HIKe program. */

/* hike_config: BPF_MAP_TYPE_ARRAY[1]. */
struct hike_vm_config {
	__u32 budget;   /* instructions per packet; 0 means HIKE_DEFAULT_BUDGET */
	__u32 flags;    /* HIKE_CFG_* */
	__u64 clock_ns; /* with HIKE_CFG_CLOCK: the time every packet booted from now on reads */
};

/* Count chain runs and program calls in hike_chain_stats / hike_prog_stats (faults are always
 * counted). */
#define HIKE_CFG_STATS 0x1
/* Record every chain entry and return, program call and return in hike_vm_state.trace (eclat
 * run --trace). */
#define HIKE_CFG_TRACE 0x2
/* A replay clock: chains and programs read hike_vm_config.clock_ns, copied into the state at
 * boot, as the time instead of bpf_ktime_get_ns() (eclat run --clock pcap sets it before each
 * packet of a capture). */
#define HIKE_CFG_CLOCK 0x4

/* hike_chain_stats: BPF_MAP_TYPE_PERCPU_ARRAY[HIKE_MAX_CHAINS]. */
struct hike_chain_stats {
	__u64 runs;                     /* entries into the chain (top-level or called) */
	__u64 faults[HIKE_FAULT_MAX];   /* aborts while this chain was the innermost frame */
};

/* hike_prog_stats: BPF_MAP_TYPE_PERCPU_ARRAY[HIKE_MAX_PROGS]. */
struct hike_prog_stats {
	__u64 calls;
};

/* hike_faults: BPF_MAP_TYPE_PERCPU_ARRAY[HIKE_FAULT_MAX] of __u64: every fault, by reason. */

/* hike_ldr_cfg: BPF_MAP_TYPE_ARRAY[1], one per loader object (not shared). */
struct hike_loader_config {
	__u32 default_verdict;  /* verdict when no chain applies or the top chain returns */
	__u32 failsafe_verdict; /* verdict when the chain faults */
	__u32 flags;            /* HIKE_LDR_VERDICTS_SET, else XDP_PASS and XDP_ABORTED */
	__u32 dispatch;         /* written by the daemon: proceed-on mask | slot << 8 */
};

#define HIKE_LDR_VERDICTS_SET 0x1

/* A chain as a loader's classifier map stores it: chain ID + 1, and HIKE_CHAIN_REF_NONE (0) for
 * "no chain". A classifier with a small key space is a BPF_MAP_TYPE_ARRAY, whose lookup the
 * verifier inlines (a hash lookup is a helper call, ~30 ns per packet); an array entry always
 * exists and starts zeroed, so zero must mean "no chain configured" (the loader's default
 * verdict, as a hash miss is), and every chain ID, 0 included, stays usable. User space reads
 * and writes it through the map layouts (hike_isa::abi::ChainRef), not as a chain ID. */
typedef __u32 hike_chain_ref;

#define HIKE_CHAIN_REF_NONE 0

/* hike_events: BPF_MAP_TYPE_RINGBUF of struct hike_event. */
struct hike_event {
	__u32 kind;     /* HIKE_EVENT_* */
	__u32 chain_id; /* innermost chain, or HIKE_NO_ID */
	__u32 prog_id;  /* emitting program, or HIKE_NO_ID */
	__u32 code;     /* user code (r1 of HIKE_HELPER_EVENT) */
	__u64 values[4];
	__u64 ts_ns;    /* the VM's clock when it was emitted (hike_now_ns(): CLOCK_MONOTONIC, or
			 * the replay clock) */
};

#define HIKE_EVENT_CHAIN 1   /* HIKE_HELPER_EVENT from a chain */
#define HIKE_EVENT_PROGRAM 2 /* hike_emit() from a program */
#define HIKE_NO_ID 0xffffffffu

/* ---- Per-CPU VM state (hike_state: BPF_MAP_TYPE_PERCPU_ARRAY[1]) ----------------------------- */

/* One active chain. Frame f's code location is kept here so that a packet keeps running the
 * version of a chain it started, even if the chain is replaced while a program runs. */
struct hike_frame {
	__u64 saved_regs[4]; /* caller's r6..r9, restored when this frame returns */
	__u64 stack_init;    /* bit i: stack slot i (bytes 8i..8i+7 of the frame) was written */
	__u32 code_off;
	__u32 code_len;
	__u32 chain_id;
	__u32 ret_pc;        /* caller's pc to resume at */
};

#define HIKE_STATUS_IDLE 0    /* no chain running on this CPU */
#define HIKE_STATUS_RUNNING 1 /* the VM is in its interpreter loop */
#define HIKE_STATUS_IN_PROG 2 /* a program called by the chain is running, or the VM is in
			       * its entry steps (vm.h: hike_vm_run) */
#define HIKE_STATUS_IN_PROG_COUNTED 3 /* the same, with HIKE_CFG_STATS on: the program counts
				       * its call (so its entry tests one word, sdk.h) */
#define HIKE_STATUS_IN_PROG_TRACED 4 /* IN_PROG + HIKE_CFG_TRACE: the program records its call
				      * in the trace; 5 is IN_PROG + STATS + TRACE (both) */
#define HIKE_STATUS_RETURNED 6 /* no chain running: the last packet's top chain returned (the
				* loader's default verdict); IDLE after a verdict or a fault */

/* ---- Call trace (HIKE_CFG_TRACE) ------------------------------------------------------------ */

/* Records kept per packet; the count goes on beyond (hike_vm_state.trace_len). */
#define HIKE_TRACE_MAX 64

#define HIKE_TRACE_CHAIN 1        /* a chain was entered (booted or called): v = r1..r5 */
#define HIKE_TRACE_CHAIN_RET 2    /* a called chain returned: v[0] = r0 */
#define HIKE_TRACE_PROG 3         /* a program was called: v = r1..r5 */
#define HIKE_TRACE_PROG_RET 4     /* the program returned v[0] to its chain */
#define HIKE_TRACE_PROG_VERDICT 5 /* the program ended the packet with verdict v[0] */

/* One record of the trace. The top chain's return is not recorded: the state says it
 * (HIKE_STATUS_RETURNED, result). */
struct hike_trace_rec {
	__u8 kind;     /* HIKE_TRACE_* */
	__u8 depth;    /* frame of the chain (entered, returning, or calling the program) */
	__u16 reserved;
	__u32 id;      /* chain or program ID */
	__u64 v[HIKE_MAX_ARGS];
};

struct hike_vm_state {
	__u64 regs[16];          /* r0..r10; 11..15 unused (lets the VM mask a register number) */
	__u32 pc;                /* next instruction of the innermost frame */
	__u32 budget;            /* instructions left for this packet */
	__u32 prog_calls;        /* program calls made for this packet */
	__u32 prog_id;           /* program being called, while HIKE_STATUS_IN_PROG */
	__u32 status;            /* HIKE_STATUS_* */
	__u32 cfg_flags;         /* hike_vm_config.flags, read at boot */
	__u32 depth;             /* innermost frame index */
	__u32 default_verdict;   /* the loader's verdict when the top chain returns */
	__u32 failsafe_verdict;  /* the loader's verdict when the chain faults */
	__u32 fault;             /* enum hike_fault of the last packet on this CPU */
	__u32 fault_pc;          /* pc of the faulting instruction */
	__u32 fault_chain;       /* chain of the faulting frame, or HIKE_NO_ID */
	__u32 verdict;           /* verdict of the last packet that finished on this CPU */
	__u32 redirect_ifindex;  /* target of the last hike_redirect() of this packet, else 0 */
	__u32 code_off;          /* the innermost frame's code (a copy of its hike_frame fields, */
	__u32 code_len;          /* read at every step without indexing the frames) */
	__u32 dispatch;          /* the running script's hike_loader_config.dispatch (dispatch.h) */
	__u32 dispatch_pad;
	__u64 result;            /* r0 of the top chain when it returned */
	__u64 packets;           /* packets booted on this CPU */
	struct hike_pkt_meta meta;
	struct hike_frame frames[HIKE_MAX_FRAMES];
	__u8 stack[HIKE_MAX_FRAMES * HIKE_STACK_SIZE];
	/* Replay clock and call trace: read and written only with HIKE_CFG_CLOCK / HIKE_CFG_TRACE
	 * (the flags in cfg_flags), so the packet path without them never touches these lines. */
	__u64 clock_ns;          /* hike_vm_config.clock_ns, copied at boot with HIKE_CFG_CLOCK */
	__u32 trace_len;         /* records of this packet, also those beyond HIKE_TRACE_MAX */
	__u32 trace_reserved;
	struct hike_trace_rec trace[HIKE_TRACE_MAX];
};
