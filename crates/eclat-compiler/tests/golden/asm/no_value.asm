; chain mark(): 6 instructions, 0 bytes of stack
mark:
    r1 = 2
    call prog ip6_hset_srcdst
    if r0 != 0 goto L5
    r1 = 1
    call prog ip6_set_tos
L5:
    exit

; chain early(u64 : x): 8 instructions, 0 bytes of stack
early:
    r6 = r1
    r1 = r6
    call prog monitor
    if r6 <= 3 goto L5
    exit
L5:
    r1 = r6
    call chain note
    exit

; chain note(u64 : x): 6 instructions, 0 bytes of stack
note:
    r6 = r1
    if r6 <= 1 goto L4
    r1 = r6
    call prog monitor
L4:
    r0 = 0
    exit

; chain value(u64 : x): 11 instructions, 0 bytes of stack
value:
    r6 = r1
    if r6 <= 1 goto L6
    r1 = r6
    call prog monitor
    r0 = 0
    exit
L6:
    if r6 != 0 goto L9
    r0 = 7
    exit
L9:
    r0 = 0
    exit
