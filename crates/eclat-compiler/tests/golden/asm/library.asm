; chain classify(u64 : v): 9 instructions, 0 bytes of stack
classify:
    r6 = r1
    if r6 >= 10 goto L4
    r0 = 1
    exit
L4:
    if r6 >= 100 goto L7
    r0 = 2
    exit
L7:
    r0 = 3
    exit
