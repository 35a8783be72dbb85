/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HIKe chains written in C: the HIKe layer's own interface.
 *
 *   #include <hike/chain.h>
 *
 *   HIKE_PROG_EXTERN(monitor, 1);              // program `monitor`, 1 parameter, called by name
 *   HIKE_PROG_EXTERN(hike_drop, 0);
 *   HIKE_CHAIN_EXTERN(classify, 2);            // chain `classify` of another file
 *
 *   HIKE_CHAIN(drop_and_count, event)          // chain `drop_and_count(event)`
 *   {
 *       monitor(event);
 *       hike_drop();
 *       return 0;
 *   }
 *
 * A `.hike.c` file is compiled by clang for the BPF target, with the project's flags
 * (`crates/hike-toolchain`), and loaded by `crates/hike-cchains`; each chain becomes HIKe
 * bytecode interpreted by the VM, like a chain compiled from eCLAT. Nothing here is an ID: calls
 * name their callee, and the ELF relocation clang emits for each call is resolved by name when
 * the chain is linked.
 *
 * Contract:
 * - HIKE_CHAIN(NAME, params...) defines chain NAME with 0 to 5 __u64 parameters (r1..r5) and a
 *   __u64 result (r0). The function is placed in the ELF section ".hike.chain.NAME(params)",
 *   which carries the chain's name and parameter names. It is weak and never inlined: a call
 *   from another chain of the same file stays a chain call (its own frame and stack), and clang
 *   assumes nothing of the callee's code, which may be replaced at run time.
 * - HIKE_PROG_EXTERN(NAME, N) / HIKE_CHAIN_EXTERN(NAME, N) declare a program / a chain of
 *   another file taking N parameters (0..5) as an extern function whose symbol is
 *   "hike.prog.NAME.N" / "hike.chain.NAME.N": the loader turns each call into a program / chain
 *   call (src_reg 2 / 1) on NAME, checked against N. The _AS variants give the C function a
 *   different name than the HIKe one (HIKE_PROG_EXTERN_AS(c_name, hike_name, N)).
 *   A chain of the same file is called directly; declare it first with HIKE_CHAIN_DECL.
 * - The VM helpers are extern functions with symbols "hike.helper.NAME" (VM helper call,
 *   src_reg 0). Packet fields are read and written in network byte order: hike_pkt_load_u16(12)
 *   is the EtherType as a number (0x86dd for IPv6).
 * - A chain has no maps, no global or static data (no string literals, no constant tables
 *   indexed at run time), no BPF helpers or kfuncs, no atomics, and 512 bytes of stack; other
 *   functions must be `static __always_inline`. The loader rejects anything else, naming the
 *   chain, the instruction and the source line.
 * - The packet metadata the loader found is read with hike_meta() (read-only).
 *
 * This header is self-contained (no kernel or libbpf header) and must not be combined with
 * abi.h, vm.h or sdk.h, which are for eBPF programs, not chains.
 */
#pragma once

#ifdef HIKE_ADDR_STACK
#error "hike/chain.h is for chains; abi.h, vm.h and sdk.h are for HIKe programs"
#endif

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed long long __s64;

/* ---- Parameter lists, 0 to 5 __u64 parameters ---------------------------------------------- */

#define __HIKE_C_NARGS(...) __HIKE_C_NARGS_(__VA_OPT__(__VA_ARGS__, ) 5, 4, 3, 2, 1, 0)
#define __HIKE_C_NARGS_(a, b, c, d, e, N, ...) N
#define __HIKE_C_CAT(a, b) __HIKE_C_CAT_(a, b)
#define __HIKE_C_CAT_(a, b) a##b
#define __HIKE_C_STR(x) __HIKE_C_STR_(x)
#define __HIKE_C_STR_(x) #x

/* Named parameters: (a, b) -> (__u64 a, __u64 b); () -> (void). */
#define __HIKE_C_PARAMS_0() void
#define __HIKE_C_PARAMS_1(a) __u64 a
#define __HIKE_C_PARAMS_2(a, b) __u64 a, __u64 b
#define __HIKE_C_PARAMS_3(a, b, c) __u64 a, __u64 b, __u64 c
#define __HIKE_C_PARAMS_4(a, b, c, d) __u64 a, __u64 b, __u64 c, __u64 d
#define __HIKE_C_PARAMS_5(a, b, c, d, e) __u64 a, __u64 b, __u64 c, __u64 d, __u64 e
#define __HIKE_C_PARAMS(...) __HIKE_C_CAT(__HIKE_C_PARAMS_, __HIKE_C_NARGS(__VA_ARGS__))(__VA_ARGS__)

/* Unnamed parameters by count: 2 -> (__u64, __u64). */
#define __HIKE_C_TYPES_0 void
#define __HIKE_C_TYPES_1 __u64
#define __HIKE_C_TYPES_2 __u64, __u64
#define __HIKE_C_TYPES_3 __u64, __u64, __u64
#define __HIKE_C_TYPES_4 __u64, __u64, __u64, __u64
#define __HIKE_C_TYPES_5 __u64, __u64, __u64, __u64, __u64
#define __HIKE_C_TYPES(N) __HIKE_C_CAT(__HIKE_C_TYPES_, N)

/* ---- Chains -------------------------------------------------------------------------------- */

/* Declares chain NAME of this file (for a call that comes before its definition). */
#define HIKE_CHAIN_DECL(NAME, ...) __u64 NAME(__HIKE_C_PARAMS(__VA_ARGS__))

/* Defines chain NAME with up to 5 __u64 parameters; the body follows and returns a __u64. */
#define HIKE_CHAIN(NAME, ...)                                                                      \
	HIKE_CHAIN_DECL(NAME, __VA_ARGS__);                                                        \
	__attribute__((section(".hike.chain." #NAME "(" #__VA_ARGS__ ")"), weak, noinline))       \
	__u64 NAME(__HIKE_C_PARAMS(__VA_ARGS__))

/* ---- Programs and chains called by name ---------------------------------------------------- */

#define HIKE_PROG_EXTERN_AS(C_NAME, HIKE_NAME, NPARAMS)                                            \
	_Static_assert((NPARAMS) >= 0 && (NPARAMS) <= 5, "a program takes 0 to 5 parameters");   \
	extern __u64 C_NAME(__HIKE_C_TYPES(NPARAMS))                                               \
		__asm__("hike.prog." #HIKE_NAME "." __HIKE_C_STR(NPARAMS))

#define HIKE_CHAIN_EXTERN_AS(C_NAME, HIKE_NAME, NPARAMS)                                           \
	_Static_assert((NPARAMS) >= 0 && (NPARAMS) <= 5, "a chain takes 0 to 5 parameters");     \
	extern __u64 C_NAME(__HIKE_C_TYPES(NPARAMS))                                               \
		__asm__("hike.chain." #HIKE_NAME "." __HIKE_C_STR(NPARAMS))

/* Program NAME, taking NPARAMS (0..5) __u64 arguments, called as NAME(args...). */
#define HIKE_PROG_EXTERN(NAME, NPARAMS) HIKE_PROG_EXTERN_AS(NAME, NAME, NPARAMS)

/* Chain NAME of another file, taking NPARAMS (0..5) __u64 arguments. */
#define HIKE_CHAIN_EXTERN(NAME, NPARAMS) HIKE_CHAIN_EXTERN_AS(NAME, NAME, NPARAMS)

/* ---- VM helpers ---------------------------------------------------------------------------- */

/* The packet field of `size` bytes (1, 2, 4 or 8) at byte `off`, big-endian, as a number. */
extern __u64 hike_pkt_load(__u64 off, __u64 size) __asm__("hike.helper.pkt_load");
/* Writes the low `size` bytes of `value` big-endian at byte `off`; returns 0. */
extern __u64 hike_pkt_store(__u64 off, __u64 size, __u64 value) __asm__("hike.helper.pkt_store");
/* The packet length in bytes. */
extern __u64 hike_pkt_len(void) __asm__("hike.helper.pkt_len");
/* Monotonic time in ns. */
extern __u64 hike_ktime_ns(void) __asm__("hike.helper.ktime_ns");
/* Emits an event {code, a, b, c} to user space (eclat trace, the event ring); returns 0. */
extern __u64 hike_event(__u64 code, __u64 a, __u64 b, __u64 c) __asm__("hike.helper.event");
/* A pseudo-random 32-bit value. */
extern __u64 hike_random(void) __asm__("hike.helper.random");

#define __hike_c_inline static inline __attribute__((always_inline))

__hike_c_inline __u8 hike_pkt_load_u8(__u64 off) { return (__u8)hike_pkt_load(off, 1); }
__hike_c_inline __u16 hike_pkt_load_u16(__u64 off) { return (__u16)hike_pkt_load(off, 2); }
__hike_c_inline __u32 hike_pkt_load_u32(__u64 off) { return (__u32)hike_pkt_load(off, 4); }
__hike_c_inline __u64 hike_pkt_load_u64(__u64 off) { return hike_pkt_load(off, 8); }

__hike_c_inline void hike_pkt_store_u8(__u64 off, __u8 v) { hike_pkt_store(off, 1, v); }
__hike_c_inline void hike_pkt_store_u16(__u64 off, __u16 v) { hike_pkt_store(off, 2, v); }
__hike_c_inline void hike_pkt_store_u32(__u64 off, __u32 v) { hike_pkt_store(off, 4, v); }
__hike_c_inline void hike_pkt_store_u64(__u64 off, __u64 v) { hike_pkt_store(off, 8, v); }

/* ---- Packet metadata (read-only) ------------------------------------------------------------ */

/* What the loader found in the packet; the layout of `struct hike_pkt_meta` in abi.h. */
struct hike_chain_meta {
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u16 eth_proto; /* host order; 0 if not Ethernet */
	__u16 l3_off;
	__u16 l4_off;    /* 0 if no L4 header was found */
	__u8 l4_proto;   /* IPPROTO_*, after IPv6 extension headers */
	__u8 flags;      /* HIKE_META_* */
	__u64 user[2];   /* loader-specific */
};

_Static_assert(sizeof(struct hike_chain_meta) == 32, "struct hike_chain_meta is 32 bytes");

#define HIKE_META_IPV4 0x01
#define HIKE_META_IPV6 0x02
#define HIKE_META_L4 0x04   /* l4_off points at an L4 header (not set for non-first fragments) */
#define HIKE_META_FRAG 0x08 /* the packet is an IPv4 or IPv6 fragment */
#define HIKE_META_VLAN 0x10 /* VLAN tags were skipped: l3_off is past them */

/* The metadata lives at a fixed VM address (HIKE_ADDR_META of abi.h). */
__hike_c_inline const struct hike_chain_meta *hike_meta(void)
{
	return (const struct hike_chain_meta *)0x0000002000000000ULL;
}
