; chain test_operations(): 27 instructions, 0 bytes of stack
test_operations:
    r6 = 1000
    r1 = r6
    r1 ^= -1
    r6 = r1
    r7 = 500
    r1 = r6
    if r1 != 0 goto L8
    r1 = r7
L8:
    r8 = r1
    r1 = r6
    if r1 == 0 goto L12
    r1 = r7
L12:
    r8 = r1
    r1 = r6
    r1 &= r7
    r8 = r1
    r1 = r6
    r1 |= r7
    r8 = r1
    r1 = r6
    r1 ^= r7
    r8 = r1
    r1 = 4
    r2 = r8
    call prog show_pkt_info
    call prog hike_pass
    exit
