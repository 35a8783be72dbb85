//! Packets for `eclat run`: hex on the command line, or Ethernet frames of a capture file
//! (classic pcap, either byte order, micro- or nanosecond timestamps; or pcapng).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

/// The bytes of a hex string: pairs of hex digits, optionally separated by spaces, `:` or
/// `-`, with an optional `0x` prefix.
pub fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let digits: Vec<u8> = t
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b':' | b'-'))
        .collect();
    if digits.is_empty() {
        bail!("empty packet");
    }
    if digits.len() & 1 != 0 {
        bail!("odd number of hex digits ({})", digits.len());
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(s, 16).with_context(|| format!("`{s}` is not a hex byte"))
        })
        .collect()
}

/// The magic number that opens a pcapng file (a section header block).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// A frame of a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// The frame's bytes.
    pub data: Vec<u8>,
    /// When it was captured, in ns since the Unix epoch; `None` for a pcapng simple packet
    /// block, which has no time.
    pub ts_ns: Option<u64>,
}

fn ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Every frame of the capture at `path`; the link type must be Ethernet.
pub fn read_capture(path: &Path) -> Result<Vec<Captured>> {
    let open = || File::open(path).with_context(|| format!("cannot open `{}`", path.display()));
    let mut magic = [0u8; 4];
    open()?
        .read_exact(&mut magic)
        .with_context(|| format!("`{}` is too short for a capture file", path.display()))?;
    let file = BufReader::new(open()?);
    let what = || format!("cannot read capture `{}`", path.display());
    let mut out = Vec::new();
    if magic == PCAPNG_MAGIC {
        let mut reader = PcapNgReader::new(file).with_context(what)?;
        // Link types of the section's interfaces, in order (packets name them by index).
        let mut links: Vec<DataLink> = Vec::new();
        while let Some(block) = reader.next_block() {
            let data = match block.with_context(what)? {
                Block::SectionHeader(_) => {
                    links.clear();
                    continue;
                }
                Block::InterfaceDescription(i) => {
                    links.push(i.linktype);
                    continue;
                }
                Block::EnhancedPacket(p) => {
                    check_ethernet(links.get(p.interface_id as usize).copied(), path)?;
                    Captured {
                        ts_ns: Some(ns(p.timestamp)),
                        data: p.data.into_owned(),
                    }
                }
                Block::SimplePacket(p) => {
                    check_ethernet(links.first().copied(), path)?;
                    Captured {
                        data: p.data.into_owned(),
                        ts_ns: None,
                    }
                }
                _ => continue,
            };
            out.push(data);
        }
    } else {
        let mut reader = PcapReader::new(file).with_context(what)?;
        check_ethernet(Some(reader.header().datalink), path)?;
        while let Some(p) = reader.next_packet() {
            let p = p.with_context(what)?;
            out.push(Captured {
                ts_ns: Some(ns(p.timestamp)),
                data: p.data.into_owned(),
            });
        }
    }
    Ok(out)
}

fn check_ethernet(link: Option<DataLink>, path: &Path) -> Result<()> {
    match link {
        Some(DataLink::ETHERNET) => Ok(()),
        Some(other) => bail!(
            "`{}` holds {other:?} frames; eclat run needs Ethernet frames",
            path.display()
        ),
        None => bail!(
            "`{}` has a packet of an undeclared interface",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in the system's temporary directory, removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn temp(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("eclat-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    #[test]
    fn reads_pcap_and_pcapng() {
        use pcap_file::pcap::{PcapPacket, PcapWriter};
        use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
        use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
        use pcap_file::pcapng::PcapNgWriter;
        use std::borrow::Cow;
        use std::time::Duration;

        let frames = [vec![1u8; 60], vec![2u8; 64]];
        let data = |c: Vec<Captured>| c.into_iter().map(|c| c.data).collect::<Vec<_>>();
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for (i, f) in frames.iter().enumerate() {
            let t = Duration::new(1_704_067_200, 1000 * i as u32);
            w.write_packet(&PcapPacket::new(t, f.len() as u32, f))
                .unwrap();
        }
        let f = temp("a.pcap", &w.into_writer());
        let read = read_capture(&f.0).unwrap();
        assert_eq!(
            read.iter().map(|c| c.ts_ns).collect::<Vec<_>>(),
            [
                Some(1_704_067_200_000_000_000),
                Some(1_704_067_200_000_001_000)
            ],
            "the capture's times, in ns"
        );
        assert_eq!(data(read), frames);

        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 0,
            options: vec![],
        })
        .unwrap();
        for f in &frames {
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::ZERO,
                original_len: f.len() as u32,
                data: Cow::Borrowed(f),
                options: vec![],
            })
            .unwrap();
        }
        let f = temp("b.pcapng", &w.into_inner());
        assert_eq!(data(read_capture(&f.0).unwrap()), frames);

        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::RAW,
            snaplen: 0,
            options: vec![],
        })
        .unwrap();
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::ZERO,
            original_len: 1,
            data: Cow::Borrowed(&[0u8][..]),
            options: vec![],
        })
        .unwrap();
        let f = temp("c.pcapng", &w.into_inner());
        let err = read_capture(&f.0).unwrap_err().to_string();
        assert!(err.contains("eclat run needs Ethernet frames"), "{err}");
    }

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex("0x0102ff").unwrap(), [1, 2, 255]);
        assert_eq!(parse_hex("01:02 ff-00").unwrap(), [1, 2, 255, 0]);
        assert!(parse_hex("012").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("").is_err());
    }
}
