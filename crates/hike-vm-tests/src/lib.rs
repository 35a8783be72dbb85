//! Kernel tests of the HIKe VM, in `tests/`: every instruction class, calls, faults, limits,
//! atomic chain replacement and differential tests against the reference VM, through
//! `BPF_PROG_TEST_RUN` (root). Their harness, which other crates' kernel tests share, is
//! `hike_testkit::Harness`; this library holds nothing.
