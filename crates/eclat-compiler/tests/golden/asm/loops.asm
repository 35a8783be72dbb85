; chain loops(u64 : n): 37 instructions, 24 bytes of stack
loops:
    *(u64 *)(r10 - 24) = r1
    r6 = 0
    r7 = 0
    r1 = *(u64 *)(r10 - 24)
    *(u64 *)(r10 - 16) = r1
L5:
    r1 = *(u64 *)(r10 - 16)
    if r7 >= r1 goto L17
    r9 = r7
    r1 = r9
    r1 %= 2
    if r1 != 0 goto L12
    goto L15
L12:
    if r6 <= 100 goto L14
    goto L17
L14:
    r6 += r9
L15:
    r7 += 1
    goto L5
L17:
    r8 = 10
L18:
    if r8 s<= 0 goto L27
    r1 = r8
    *(u64 *)(r10 - 8) = r1
    r1 = r6
    r2 = *(u64 *)(r10 - 8)
    r1 -= r2
    r6 = r1
    r8 += -2
    goto L18
L27:
    if r6 <= 1000 goto L33
    r6 /= 2
    if r6 != 7 goto L32
    r0 = r6
    exit
L32:
    goto L27
L33:
    r1 = r6
    call prog monitor
    call prog hike_pass
    exit
