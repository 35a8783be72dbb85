; chain read_ttl(): 11 instructions, 0 bytes of stack
read_ttl:
    r1 = 0x2000000000 ll
    r0 = 0
    r2 = *(u8 *)(r1 + 15)
    r2 &= 1
    if r2 == 0 goto L10
    r1 = *(u16 *)(r1 + 10)
    r1 += 8
    r2 = 1
    call pkt_load
L10:
    exit

; chain read_sport(): 20 instructions, 0 bytes of stack
read_sport:
    r1 = 0x2000000000 ll
    r0 = 0
    r2 = *(u8 *)(r1 + 15)
    r2 &= 4
    if r2 == 0 goto L19
    r2 = *(u8 *)(r1 + 14)
    if r2 != 17 goto L19
    call pkt_len
    r3 = r0
    r1 = 0x2000000000 ll
    r0 = 0
    r1 = *(u16 *)(r1 + 12)
    r2 = r1
    r2 += 2
    if r2 > r3 goto L19
    r2 = 2
    call pkt_load
L19:
    exit

; chain is_doc_net(): 21 instructions, 0 bytes of stack
is_doc_net:
    r1 = 0x2000000000 ll
    r0 = 0
    r2 = *(u8 *)(r1 + 15)
    r2 &= 2
    if r2 == 0 goto L10
    r1 = *(u16 *)(r1 + 10)
    r1 += 8
    r2 = 8
    call pkt_load
L10:
    r1 = 0xffffffff00000000 ll
    r0 &= r1
    r1 = 0x20010db800000000 ll
    if r0 != r1 goto L18
    r1 = 1
    goto L19
L18:
    r1 = 0
L19:
    r0 = r1
    exit

; chain is_host(): 33 instructions, 0 bytes of stack
is_host:
    r1 = 0x2000000000 ll
    r0 = 0
    r2 = *(u8 *)(r1 + 15)
    r2 &= 2
    if r2 == 0 goto L10
    r1 = *(u16 *)(r1 + 10)
    r1 += 24
    r2 = 8
    call pkt_load
L10:
    r1 = 0x20010db800000000 ll
    if r0 != r1 goto L15
    r1 = 1
    goto L16
L15:
    r1 = 0
L16:
    if r1 == 0 goto L31
    r1 = 0x2000000000 ll
    r0 = 0
    r2 = *(u8 *)(r1 + 15)
    r2 &= 2
    if r2 == 0 goto L27
    r1 = *(u16 *)(r1 + 10)
    r1 += 32
    r2 = 8
    call pkt_load
L27:
    if r0 != 1 goto L30
    r1 = 1
    goto L31
L30:
    r1 = 0
L31:
    r0 = r1
    exit

; chain decrement_ttl(): 74 instructions, 8 bytes of stack
decrement_ttl:
    r1 = 0x2000000000 ll
    r0 = 0
    r2 = *(u8 *)(r1 + 15)
    r2 &= 1
    if r2 == 0 goto L10
    r1 = *(u16 *)(r1 + 10)
    r1 += 8
    r2 = 1
    call pkt_load
L10:
    r0 -= 1
    *(u64 *)(r10 - 8) = r0
    r1 = 0x2000000000 ll
    r0 = 0
    r2 = *(u8 *)(r1 + 15)
    r2 &= 1
    if r2 == 0 goto L19
    r0 = 1
L19:
    if r0 == 0 goto L73
    r1 = 0x2000000000 ll
    r0 = *(u16 *)(r1 + 10)
    r0 += 8
    r7 = r0
    r1 = r7
    r2 = 2
    call pkt_load
    r8 = r0
    r1 = r8
    r1 &= 255
    r2 = *(u64 *)(r10 - 8)
    r2 &= 255
    r2 <<= 8
    r1 |= r2
    r9 = r1
    r1 = r7
    r2 = 2
    r3 = r9
    call pkt_store
    r1 = 0x2000000000 ll
    r0 = *(u16 *)(r1 + 10)
    r0 += 10
    r7 = r0
    r1 = r7
    r2 = 2
    call pkt_load
    r6 = r0
    r1 = r6
    r1 ^= 65535
    r2 = r8
    r2 ^= 65535
    r1 += r2
    r1 += r9
    r6 = r1
    r1 = r6
    r1 &= 65535
    r2 = r6
    r2 >>= 16
    r1 += r2
    r6 = r1
    r1 = r6
    r1 &= 65535
    r2 = r6
    r2 >>= 16
    r1 += r2
    r6 = r1
    r6 ^= 65535
    r1 = r7
    r2 = 2
    r3 = r6
    call pkt_store
L73:
    exit

; chain set_dport(): 64 instructions, 8 bytes of stack
set_dport:
    r9 = 53
    r1 = 0x2000000000 ll
    r0 = 0
    r2 = *(u8 *)(r1 + 15)
    r2 &= 4
    if r2 == 0 goto L10
    r2 = *(u8 *)(r1 + 14)
    if r2 != 17 goto L10
    r0 = 1
L10:
    if r0 == 0 goto L63
    r1 = 0x2000000000 ll
    r0 = *(u16 *)(r1 + 12)
    r0 += 2
    r7 = r0
    r1 = r7
    r2 = 2
    call pkt_load
    *(u64 *)(r10 - 8) = r0
    r1 = r9
    r1 &= 65535
    r8 = r1
    r1 = r7
    r2 = 2
    r3 = r8
    call pkt_store
    r1 = 0x2000000000 ll
    r0 = *(u16 *)(r1 + 12)
    r0 += 6
    r7 = r0
    r1 = r7
    r2 = 2
    call pkt_load
    r6 = r0
    if r6 == 0 goto L63
    r1 = r6
    r1 ^= 65535
    r2 = *(u64 *)(r10 - 8)
    r2 ^= 65535
    r1 += r2
    r1 += r8
    r6 = r1
    r1 = r6
    r1 &= 65535
    r2 = r6
    r2 >>= 16
    r1 += r2
    r6 = r1
    r1 = r6
    r1 &= 65535
    r2 = r6
    r2 >>= 16
    r1 += r2
    r6 = r1
    r6 ^= 65535
    if r6 != 0 goto L59
    r6 = 65535
L59:
    r1 = r7
    r2 = 2
    r3 = r6
    call pkt_store
L63:
    exit
