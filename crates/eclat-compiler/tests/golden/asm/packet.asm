; chain packet_rw(): 31 instructions, 0 bytes of stack
packet_rw:
    r1 = 12
    r2 = 2
    call pkt_load
    if r0 != 34525 goto L6
    call pkt_len
    if r0 >= 54 goto L8
L6:
    call prog hike_pass
    exit
L8:
    r1 = 21
    r2 = 1
    call pkt_load
    r6 = r0
    if r6 > 1 goto L15
    call prog hike_drop
    exit
L15:
    r7 = 21
    r1 = r7
    r2 = 1
    call pkt_load
    r0 -= 1
    r3 = r0
    r1 = r7
    r2 = 1
    call pkt_store
    call pkt_len
    r3 = r0
    r1 = 0
    r2 = 4
    call pkt_store
    r0 = r6
    exit
