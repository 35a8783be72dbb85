; chain ddos_tb_2_lev(): 33 instructions, 0 bytes of stack
ddos_tb_2_lev:
    r1 = 2
    call prog ip6_hset_srcdst
    r6 = r0
    if r6 != 0 goto L17
    r1 = 500
    call prog ip6_sd_dec2zero
    r6 = r0
    if r6 != 0 goto L13
    r1 = 2
    call prog monitor
    r1 = 6
    call prog l2_redirect
    exit
L13:
    r1 = 1
    call prog monitor
    call prog hike_drop
    exit
L17:
    call prog ip6_dst_tbmon
    r6 = r0
    if r6 == 0 goto L29
    call prog ip6_sd_tbmon
    r6 = r0
    if r6 == 0 goto L29
    r1 = 1
    call prog ip6_hset_srcdst
    r1 = 1
    call prog monitor
    call prog hike_drop
    exit
L29:
    r1 = 0
    call prog monitor
    call prog hike_pass
    exit
