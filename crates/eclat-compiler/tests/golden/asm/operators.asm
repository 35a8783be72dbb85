; chain operators(u8 : a, s16 : b, u32 : c): 66 instructions, 48 bytes of stack
operators:
    r1 &= 255
    r6 = r1
    r2 = (s16)r2
    r7 = r2
    w3 = w3
    r8 = r3
    r1 = r6
    r1 &= 3
    if r1 != 1 goto L11
    r1 = 1
    goto L12
L11:
    r1 = 0
L12:
    r9 = r1
    if r6 == 0 goto L16
    r1 = 1
    goto L17
L16:
    r1 = 0
L17:
    *(u64 *)(r10 - 8) = r1
    r1 = r6
    r1 += 250
    r1 &= 255
    *(u64 *)(r10 - 16) = r1
    r1 = r7
    r1 = (s8)r1
    *(u64 *)(r10 - 24) = r1
    r1 = r7
    r1 s/= 4
    r2 = r7
    r2 s%= 4
    r1 += r2
    r1 s>>= 1
    r1 = (s32)r1
    *(u64 *)(r10 - 32) = r1
    r1 = r8
    r1 *= 15
    r2 = r8
    r2 <<= 2
    r1 -= r2
    r2 = r8
    r2 ^= -1
    r1 ^= r2
    *(u64 *)(r10 - 40) = r1
    r1 = 0x123456789abcdef0 ll
    *(u64 *)(r10 - 48) = r1
    r1 = r9
    r2 = *(u64 *)(r10 - 8)
    r1 += r2
    r2 = *(u64 *)(r10 - 16)
    r1 += r2
    r2 = *(u64 *)(r10 - 24)
    r1 += r2
    r2 = *(u64 *)(r10 - 32)
    r1 += r2
    r2 = *(u64 *)(r10 - 40)
    r1 += r2
    r2 = *(u64 *)(r10 - 48)
    r1 += r2
    call prog monitor
    r1 = r6
    if r1 != 0 goto L64
    r1 = r7
    if r1 == 0 goto L64
    r1 = r8
L64:
    r0 = r1
    exit
