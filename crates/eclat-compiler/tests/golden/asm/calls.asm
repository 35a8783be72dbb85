; chain calls(u64 : x): 23 instructions, 8 bytes of stack
calls:
    r6 = r1
    r1 = r6
    r2 = 2
    call chain helper
    *(u64 *)(r10 - 8) = r0
    r1 = r6
    call chain classify
    r1 = *(u64 *)(r10 - 8)
    r1 += r0
    r7 = r1
    if r7 <= 3 goto L15
    call prog ip6_sd_tbmon
    if r0 == 0 goto L15
    call prog hike_drop
    exit
L15:
    r1 = r7
    r2 = r6
    call chain helper
    r0 *= 2
    r1 = r0
    call prog monitor
    call prog hike_pass
    exit

; chain helper(u32 : a, u64 : b): 8 instructions, 0 bytes of stack
helper:
    w1 = w1
    r6 = r1
    r7 = r2
    r1 = r6
    r1 *= 10
    r1 += r7
    r0 = r1
    exit
