// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Deterministic HIKe programs for tests; hike-refvm's tests mock each with the same meaning
 * (crates/hike-runtime/tests/support: keep them in sync). */
#include <hike/sdk.h>

/* Returns 0: the null program of the tailcall_loop benchmark. */
HIKE_PROG(test_null)
{
	HIKE_RETURN(0);
}

/* test_sumN returns 1000 + sum of (i + 1) * arg_i, so every argument position is visible. */
HIKE_PROG(test_sum0)
{
	HIKE_RETURN(1000);
}

HIKE_PROG(test_sum1, a)
{
	HIKE_RETURN(1000 + a);
}

HIKE_PROG(test_sum2, a, b)
{
	HIKE_RETURN(1000 + a + 2 * b);
}

HIKE_PROG(test_sum3, a, b, c)
{
	HIKE_RETURN(1000 + a + 2 * b + 3 * c);
}

HIKE_PROG(test_sum4, a, b, c, d)
{
	HIKE_RETURN(1000 + a + 2 * b + 3 * c + 4 * d);
}

HIKE_PROG(test_sum5, a, b, c, d, e)
{
	HIKE_RETURN(1000 + a + 2 * b + 3 * c + 4 * d + 5 * e);
}

/* XORs packet byte `off` with `val`; returns the old byte, or u64::MAX past the end. */
HIKE_PROG(test_pkt_xor, off, val)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *p;
	__u8 old;

	if (off >= (__u64)(end - data))
		HIKE_RETURN(~0ULL);
	p = data + (off & 0x3fff); /* bounds the pointer for the verifier; changes nothing */
	if ((void *)(p + 1) > end)
		HIKE_RETURN(~0ULL);
	old = *p;
	*p = old ^ (__u8)val;
	HIKE_RETURN(old);
}

/* Ends the packet with verdict `v` (a terminal program). */
HIKE_PROG(test_verdict, v)
{
	return (int)v;
}

/* Emits an event with `code` and returns it. */
HIKE_PROG(test_emit, code)
{
	hike_emit((__u32)code, code + 1, code + 2, code + 3);
	HIKE_RETURN(code);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
