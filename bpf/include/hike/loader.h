/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Building blocks of a HIKe loader: the XDP or TC program (ctx.h) attached to an interface that
 * parses the packet once, picks a chain and starts the VM.
 *
 * Contract:
 * - HIKE_LOADER(name) declares the loader's entry point (BTF decl tag "hike_loader").
 * - hike_loader_parse() parses the packet once into the per-CPU metadata (struct hike_pkt_meta:
 *   offsets of the L3 and L4 headers, protocols, flags; in fused mode a local of the program, see
 *   HIKE_LOADER) for the loader to classify with;
 *   hike_loader_boot() then boots the chain with up to 5 arguments. hike_loader_start() does
 *   both, for loaders that do not look at the packet.
 *   Programs read the metadata with hike_meta() instead of parsing again.
 * - hike_loader_no_chain() is the verdict for a packet no chain applies to.
 * - hike_loader_boot_ref() boots the chain a classifier map's hike_chain_ref designates (chain
 *   ID + 1; a missing entry or HIKE_CHAIN_REF_NONE gives hike_loader_no_chain()).
 * - Verdicts come from the loader's own map hike_ldr_cfg (struct hike_loader_config); unset,
 *   they are XDP_PASS (default) and XDP_ABORTED (fail-safe).
 */
#pragma once

#include "sdk.h"

/* How a loader starts a chain: the interpreter, or in fused mode the script's chains compiled in
 * (fused.h: hike_fused_boot(), defined by the generated code after the loader's source). */
#ifdef HIKE_FUSED
static __always_inline int hike_fused_boot(struct xdp_md *ctx, struct hike_vm_state *st,
					   const struct hike_pkt_meta *meta, __u32 chain_id,
					   const __u64 *args, __u32 default_verdict,
					   __u32 failsafe_verdict);
#define HIKE_BOOT(ctx, st, meta, ...) hike_fused_boot((ctx), (st), (meta), __VA_ARGS__)
#else
/* The interpreter reads the metadata from the state, where the parse put it. */
#define HIKE_BOOT(ctx, st, meta, ...) hike_vm_boot((ctx), (st), __VA_ARGS__)
#endif

#ifndef HIKE_IPV6_EXT_MAX
/* IPv6 extension headers walked to find the L4 header. */
#define HIKE_IPV6_EXT_MAX 4
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hike_loader_config);
} hike_ldr_cfg SEC(".maps");

#ifdef HIKE_FUSED
/* Fused mode (fused.h): the loader's body only; the fused script's entry point calls it (with
 * the same dispatch as below) with the metadata the parse fills, a local of the entry (sdk.h:
 * hike_meta()); hike_loader_parse(), hike_loader_boot() and hike_loader_start() below are
 * macros that use it. */
#define HIKE_LOADER(NAME)                                                                          \
	static __always_inline int ___hike_loader_##NAME(struct xdp_md *ctx,                      \
							 struct hike_pkt_meta *___hike_meta_p)
#else
/* The entry point wraps the loader's body: at TC it first pulls the whole packet into the
 * skb's linear part (ctx.h: hike_ctx_linearize(), so parsing and programs see every byte); it
 * copies the script's dispatch word into the state (for the programs that may end the packet),
 * hands the body's verdict to the dispatch (dispatch.h: the next script of the hook when the
 * verdict proceeds) and maps it to a TC action (HIKE_CTX_EXIT; at XDP nothing). */
#define HIKE_LOADER(NAME)                                                                          \
	static __always_inline int ___hike_loader_##NAME(struct xdp_md *ctx);                     \
	__attribute__((btf_decl_tag("hike_loader"))) SEC(HIKE_CTX_SEC) int NAME(                  \
		struct xdp_md *ctx)                                                                \
	{                                                                                          \
		__u32 ___hike_word;                                                                \
                                                                                                   \
		hike_ctx_linearize(ctx);                                                           \
		___hike_word = hike_loader_dispatch_enter();                                       \
		return HIKE_CTX_EXIT(ctx, hike_dispatch_verdict(ctx, ___hike_word,                 \
								___hike_loader_##NAME(ctx)));      \
	}                                                                                          \
	static __always_inline int ___hike_loader_##NAME(struct xdp_md *ctx)
#endif

/* The loader's configuration, or NULL if the map is missing. Pure (vm.h: hike_lookup0_pure()):
 * the dispatch word at the entry, the verdicts at boot and the default verdict of a packet no
 * chain applies to come from one lookup per packet, not one each. */
static __always_inline struct hike_loader_config *hike_loader_cfg_get(void)
{
	return hike_lookup0_pure(hike_ldr_cfg);
}

/* The script's dispatch word (proceed-on mask and slot), also left in the state for programs. */
static __always_inline __u32 hike_loader_dispatch_enter(void)
{
	struct hike_loader_config *cfg = hike_loader_cfg_get();
	struct hike_vm_state *st = hike_state_get();
	__u32 word = cfg ? cfg->dispatch : 0;

	if (st)
		st->dispatch = word;
	return word;
}

static __always_inline void hike_loader_verdicts(__u32 *def, __u32 *failsafe)
{
	struct hike_loader_config *cfg = hike_loader_cfg_get();

	*def = XDP_PASS;
	*failsafe = XDP_ABORTED;
	if (cfg && (cfg->flags & HIKE_LDR_VERDICTS_SET)) {
		*def = cfg->default_verdict;
		*failsafe = cfg->failsafe_verdict;
	}
}

static __always_inline int hike_loader_no_chain(void)
{
	__u32 def, failsafe;

	hike_loader_verdicts(&def, &failsafe);
	return def;
}

/* Fills `meta` from the packet: Ethernet with up to two VLAN tags (802.1Q 0x8100, 802.1ad
 * 0x88a8: QinQ), IPv4 or IPv6 (with up to HIKE_IPV6_EXT_MAX extension headers), and the offset
 * of the L4 header. `eth_proto` is the ethertype after the tags and `l3_off` is 14 + 4 * tags;
 * HIKE_META_VLAN says at least one tag was skipped (the outer tag's TCI is at bytes 14..15). An
 * untagged frame costs one predictable branch more than before tags were parsed. A tag cut
 * short, or a third tag, leaves `eth_proto` at its TPID (not IP), so nothing after it is
 * parsed. */
static __always_inline void hike_parse(struct xdp_md *ctx, struct hike_pkt_meta *meta)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *eth = data;
	__u16 proto;
	__u32 off;

	meta->ingress_ifindex = ctx->ingress_ifindex;
	meta->rx_queue_index = hike_ctx_rx_queue(ctx);
	meta->eth_proto = 0;
	meta->l3_off = 0;
	meta->l4_off = 0;
	meta->l4_proto = 0;
	meta->flags = 0;
	meta->user[0] = 0;
	meta->user[1] = 0;
	if ((void *)(eth + 14) > end)
		return;
	proto = ((__u16)eth[12] << 8) | eth[13];
	off = 14;
	/* Unlikely: an untagged frame takes one branch here, the tags' checks are out of line. */
	if (__builtin_expect(proto == 0x8100 || proto == 0x88a8, 0)) {
		/* Constant offsets on each path keep the verifier's bounds exact. */
		if ((void *)(eth + 18) <= end) {
			meta->flags |= HIKE_META_VLAN;
			proto = ((__u16)eth[16] << 8) | eth[17];
			off = 18;
			if ((proto == 0x8100 || proto == 0x88a8) && (void *)(eth + 22) <= end) {
				proto = ((__u16)eth[20] << 8) | eth[21];
				off = 22;
			}
		}
	}
	meta->eth_proto = proto;
	meta->l3_off = off;
	if (proto == 0x0800) {
		__u8 *ip = data + off;
		__u32 ihl;

		if ((void *)(ip + 20) > end)
			return;
		ihl = (ip[0] & 0x0f) * 4;
		if (ihl < 20)
			return;
		meta->flags |= HIKE_META_IPV4;
		meta->l4_proto = ip[9];
		/* MF set or a fragment offset: a fragment; only the first one has the L4 header. */
		if ((ip[6] & 0x3f) | ip[7]) {
			meta->flags |= HIKE_META_FRAG;
			if (((ip[6] & 0x1f) | ip[7]) != 0)
				return;
		}
		if ((void *)(ip + ihl) > end)
			return;
		meta->l4_off = off + ihl;
		meta->flags |= HIKE_META_L4;
	} else if (proto == 0x86dd) {
		__u8 *ip = data + off;
		__u8 next;
		int i;

		if ((void *)(ip + 40) > end)
			return;
		meta->flags |= HIKE_META_IPV6;
		next = ip[6];
		off += 40;
#pragma unroll
		for (i = 0; i < HIKE_IPV6_EXT_MAX; i++) {
			__u8 *ext;

			if (next != 0 && next != 43 && next != 44 && next != 60)
				break;
			ext = data + (off & 0xfff);
			if ((void *)(ext + 8) > end)
				return;
			if (next == 44) {
				/* The fragment header is 8 bytes; a non-first fragment has no L4 header. */
				meta->flags |= HIKE_META_FRAG;
				if ((ext[2] << 5 | ext[3] >> 3) != 0) {
					meta->l4_proto = ext[0];
					return;
				}
				off += 8;
			} else {
				off += ((__u32)ext[1] + 1) * 8;
			}
			next = ext[0];
		}
		meta->l4_proto = next;
		if (off > 0xfff || (void *)(data + off) > end)
			return;
		meta->l4_off = off;
		meta->flags |= HIKE_META_L4;
	}
}

/* Boots with the state the loader already holds (one per-CPU lookup per packet, not two), for
 * the packet parsed into `meta`. */
static __always_inline int hike_loader_boot_st(struct xdp_md *ctx, struct hike_vm_state *st,
					       const struct hike_pkt_meta *meta, __u32 chain_id,
					       const __u64 *args)
{
	__u32 def, failsafe;

	hike_loader_verdicts(&def, &failsafe);
	if (!st)
		return failsafe;
	return HIKE_BOOT(ctx, st, meta, chain_id, args, def, failsafe);
}

#ifdef HIKE_FUSED
/* The loader's body's metadata (HIKE_LOADER above), parsed; never NULL. */
static __always_inline const struct hike_pkt_meta *hike_fused_loader_parse(struct xdp_md *ctx,
									  struct hike_pkt_meta *meta)
{
	hike_parse(ctx, meta);
	return meta;
}
#define hike_loader_parse(ctx) hike_fused_loader_parse((ctx), ___hike_meta_p)
#define hike_loader_boot(ctx, chain_id, args)                                                      \
	hike_loader_boot_st((ctx), hike_state_get(), ___hike_meta_p, (chain_id), (args))
#else
/* Parses the packet into the per-CPU metadata and returns it, for a loader to classify with
 * before hike_loader_boot(); NULL only if the VM state is missing. */
static __always_inline const struct hike_pkt_meta *hike_loader_parse(struct xdp_md *ctx)
{
	struct hike_vm_state *st = hike_state_get();

	if (!st)
		return 0;
	hike_parse(ctx, &st->meta);
	return &st->meta;
}

/* Starts chain `chain_id` with args[0..4] as r1..r5, for a packet hike_loader_parse() parsed. */
static __always_inline int hike_loader_boot(struct xdp_md *ctx, __u32 chain_id, const __u64 *args)
{
	struct hike_vm_state *st = hike_state_get();

	return hike_loader_boot_st(ctx, st, st ? &st->meta : 0, chain_id, args);
}
#endif

/* Starts the chain `ref` designates, for the packet hike_loader_parse() parsed into `meta`:
 * `ref` is what a classifier map holds (abi.h: chain ID + 1), NULL when the lookup missed. No
 * chain (NULL or HIKE_CHAIN_REF_NONE) is the loader's default verdict. The per-CPU state is
 * found from `meta` (it lives in it), without a second lookup; in fused mode `meta` is the
 * entry's local and the state is looked up. */
static __always_inline int hike_loader_boot_ref(struct xdp_md *ctx,
						const struct hike_pkt_meta *meta,
						const hike_chain_ref *ref, const __u64 *args)
{
	struct hike_vm_state *st;
	hike_chain_ref r;

	if (!ref)
		return hike_loader_no_chain();
	r = *ref;
	if (r == HIKE_CHAIN_REF_NONE)
		return hike_loader_no_chain();
#ifdef HIKE_FUSED
	st = hike_state_get();
#else
	st = (struct hike_vm_state *)((char *)meta - __builtin_offsetof(struct hike_vm_state, meta));
#endif
	return hike_loader_boot_st(ctx, st, meta, r - 1, args);
}

/* Parses the packet and starts chain `chain_id` with args[0..4] as r1..r5. */
#ifdef HIKE_FUSED
#define hike_loader_start(ctx, chain_id, args)                                                     \
	(hike_loader_parse(ctx), hike_loader_boot((ctx), (chain_id), (args)))
#else
static __always_inline int hike_loader_start(struct xdp_md *ctx, __u32 chain_id, const __u64 *args)
{
	if (!hike_loader_parse(ctx))
		return hike_loader_no_chain();
	return hike_loader_boot(ctx, chain_id, args);
}
#endif
