//! Shared by the tests: compiling C source held in the test, and the chains the VM tests run.

#![allow(dead_code)]

use hike_cchains::{compile_source, load_hike_c, CChain, CChainError, CompileOptions};
use hike_isa::validate::Context;
use hike_isa::Symbols;

/// Compiles `src` as `test.hike.c` and loads its chains; panics on any error.
pub fn load(src: &str) -> Vec<CChain> {
    try_load(src).unwrap_or_else(|e| panic!("load the chains: {e}"))
}

/// Compiles `src` as `test.hike.c` (which must compile) and loads its chains.
pub fn try_load(src: &str) -> Result<Vec<CChain>, CChainError> {
    let compiled = compile_source("test.hike.c", src, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("compile the test source: {e}"));
    load_hike_c(&compiled.object)
}

/// The chain called `name`.
pub fn chain<'a>(chains: &'a [CChain], name: &str) -> &'a CChain {
    chains
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no chain `{name}`"))
}

/// The first chain ID given to the chains of a file.
pub const FIRST_CHAIN: u32 = 10;

/// Symbols and validation context for the test programs (`hike_testkit::PROGRAMS`) and `chains` at IDs
/// `FIRST_CHAIN..`, in order.
pub fn link_context(chains: &[CChain]) -> (Symbols, Context) {
    let mut symbols = Symbols::new();
    let mut ctx = Context::new();
    for (name, id, n) in hike_testkit::PROGRAMS {
        symbols.add_prog(id, name);
        ctx.add_prog(id, n);
    }
    for (i, c) in chains.iter().enumerate() {
        let id = FIRST_CHAIN + i as u32;
        symbols.add_chain(id, c.name.clone());
        ctx.add_chain(id, c.nparams);
    }
    (symbols, ctx)
}

/// Chains run on both VMs: calls of programs and chains by name, helpers, 64-bit constants,
/// jumps, loops, the stack, recursion and the packet metadata.
pub const CHAINS_C: &str = r#"
#include <hike/chain.h>

HIKE_PROG_EXTERN(test_sum2, 2);
HIKE_PROG_EXTERN_AS(sum3, test_sum3, 3);
HIKE_PROG_EXTERN(test_verdict, 1);
HIKE_PROG_EXTERN(test_emit, 1);
HIKE_PROG_EXTERN(test_pkt_xor, 2);

/* test_sum2(a, b) = 1000 + a + 2b */
HIKE_CHAIN(sum_pair, a, b)
{
	return test_sum2(a, b) + 1;
}

/* A chain calling a chain of the same file and a program under another C name. */
HIKE_CHAIN(twice, x)
{
	__u64 keep = x * 7;
	return sum_pair(x, x) * 2 + sum3(1, 2, 3) + keep;
}

/* Recursion through chain calls. */
HIKE_CHAIN(fib, n)
{
	if (n < 2)
		return n;
	return fib(n - 1) + fib(n - 2);
}

/* Swaps the Ethernet addresses with the packet helpers; returns the packet length. */
HIKE_CHAIN(swap_macs)
{
	__u64 d0 = hike_pkt_load_u32(0), d1 = hike_pkt_load_u16(4);
	__u64 s0 = hike_pkt_load_u32(6), s1 = hike_pkt_load_u16(10);

	hike_pkt_store_u32(0, s0);
	hike_pkt_store_u16(4, s1);
	hike_pkt_store_u32(6, d0);
	hike_pkt_store_u16(10, d1);
	return hike_pkt_len();
}

/* 64-bit constants (LD_IMM64) and branches. */
HIKE_CHAIN(wide, x)
{
	__u64 k = 0x0123456789abcdefULL;

	if (x > 10)
		k ^= 0xfedcba9876543210ULL;
	else if (x == 3)
		k = (__s64)-2;
	return k + x;
}

/* An array on the stack, indexed at run time. */
HIKE_CHAIN(stack_mix, x)
{
	volatile __u64 a[8];
	__u64 s = 0;

	for (int i = 0; i < 8; i++)
		a[i] = x * i + 3;
	for (int i = 0; i < 8; i++)
		s += a[(i * 3 + x) & 7] << i;
	return s;
}

/* The loader's metadata, packed: eth_proto, l3_off, l4_off, l4_proto, flags. */
HIKE_CHAIN(meta_probe)
{
	const struct hike_chain_meta *m = hike_meta();

	return (__u64)m->eth_proto << 48 | (__u64)m->l3_off << 32 | (__u64)m->l4_off << 16 |
	       (__u64)m->l4_proto << 8 | m->flags;
}

/* An event from the chain, one from a program, then a verdict that ends the packet. */
HIKE_CHAIN(event_and_verdict, code)
{
	hike_event(code, 1, 2, 3);
	test_emit(code);
	test_verdict(code);
	return 99;
}

/* A program changing the packet; its result, plus the byte read back big-endian. */
HIKE_CHAIN(xor_byte, off, val)
{
	__u64 old = test_pkt_xor(off, val);

	return old << 8 | hike_pkt_load_u8(off);
}
"#;
