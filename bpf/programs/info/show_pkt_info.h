/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The events of show_pkt_info(layers, user_info), for the program and for user space (eclat
 * trace, the daemon's log), which decodes struct hike_event.code and values[0..2] with them.
 * All values are in host byte order; addresses as numbers (the first byte on the wire is the
 * most significant).
 */
#pragma once

/* Bits of `layers`. */
#define SHOW_PKT_INFO_L2 1
#define SHOW_PKT_INFO_L3 2
#define SHOW_PKT_INFO_L4 4

/* Always first. a: user_info, b: layers, c: frame length | ingress ifindex << 32. */
#define SHOW_PKT_INFO_EV_SUMMARY 0x53500001u
/* L2, Ethernet. a: destination MAC (48 bits), b: source MAC, c: EtherType. */
#define SHOW_PKT_INFO_EV_ETH 0x53500002u
/* L3, IPv4. a: source, b: destination, c: protocol | TTL << 8 | TOS << 16 | total length << 32. */
#define SHOW_PKT_INFO_EV_IPV4 0x53500003u
/* L3, IPv6, first event. a: source bits 127..64, b: source bits 63..0,
 * c: L4 protocol (after extension headers) | hop limit << 8 | traffic class << 16
 *    | payload length << 32. */
#define SHOW_PKT_INFO_EV_IPV6 0x53500004u
/* L3, IPv6, second event. a: destination bits 127..64, b: destination bits 63..0,
 * c: flow label. */
#define SHOW_PKT_INFO_EV_IPV6_DST 0x53500005u
/* L4 header found by the loader. a: protocol; b: TCP/UDP source port << 16 | destination port,
 * ICMP/ICMPv6 type << 8 | code, other protocols 0; c: TCP flags (the 8 bits of byte 13), else
 * 0. */
#define SHOW_PKT_INFO_EV_L4 0x53500006u
