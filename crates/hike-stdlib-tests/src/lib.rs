//! Kernel tests of the standard HIKe programs and loaders (`bpf/programs`, `bpf/loaders`), in
//! `tests/`: chains in HIKe assembly and real packets through `BPF_PROG_TEST_RUN` (root),
//! `ip6_kroute` in a private network namespace, Listing 2 of the paper by hand, and the
//! package manifests against the objects. Their lab, which other crates' kernel tests share,
//! is `hike_testkit::Lab`; this library holds nothing.
