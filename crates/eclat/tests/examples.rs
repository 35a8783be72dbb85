//! The committed example files are what their generators make: `examples/flood.pcap` from
//! `support::flood_pcap`. Regenerate with `UPDATE_EXAMPLES=1 cargo test -p eclat --test examples`.

mod support;

#[test]
fn flood_pcap_is_generated() {
    let path = support::repo().join("examples/flood.pcap");
    let expected = support::flood_pcap();
    if std::env::var_os("UPDATE_EXAMPLES").is_some() {
        std::fs::write(&path, &expected).expect("write examples/flood.pcap");
    }
    let found = std::fs::read(&path).expect("examples/flood.pcap (UPDATE_EXAMPLES=1 makes it)");
    assert!(
        found == expected,
        "examples/flood.pcap differs from support::flood_pcap(): run with UPDATE_EXAMPLES=1"
    );
}
