//! Source lines and CO-RE records from the `.BTF` / `.BTF.ext` sections clang emits with `-g`.
//!
//! Only what messages need is read: the line-info records (section, instruction byte offset →
//! file, line, column) and whether a section has CO-RE relocations, which chains cannot have.
//! Without `-g` (no `.BTF.ext`) there are no locations and nothing else changes; a malformed
//! section is ignored the same way, since it only ever improves messages.
//!
//! Why by hand: this crate needs no libbpf (it makes no BPF syscall and loads nothing), and
//! neither libbpf-rs nor the `object` crate exposes `.BTF.ext` line info anyway. Of `.BTF` it
//! needs only the string table, so the few header fields are read here rather than borrowing
//! `eclat-catalog`'s BTF type reader, which sits above this crate (it needs the compiler and
//! the standard objects) and reads no `.BTF.ext`.
//!
//! Layouts (little endian), from the kernel's `btf.h` and libbpf's `btf.c`:
//! - `.BTF`: `u16 magic, u8 version, u8 flags, u32 hdr_len, u32 type_off, u32 type_len,
//!   u32 str_off, u32 str_len`; strings start at `hdr_len + str_off`.
//! - `.BTF.ext`: `u16 magic, u8 version, u8 flags, u32 hdr_len, u32 func_info_off,
//!   u32 func_info_len, u32 line_info_off, u32 line_info_len` and, when `hdr_len >= 32`,
//!   `u32 core_relo_off, u32 core_relo_len`; offsets count from the end of the header. Each
//!   info block is `u32 rec_size`, then per section `u32 sec_name_off, u32 num_info` and
//!   `num_info` records of `rec_size` bytes. A line record is `u32 insn_off` (bytes, in an
//!   object file), `u32 file_name_off, u32 line_off, u32 line_col` (line << 10 | column).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::SourceLoc;

const BTF_MAGIC: u16 = 0xeb9f;

/// What `.BTF.ext` says about the code sections.
#[derive(Debug, Default)]
pub(crate) struct BtfExt {
    /// Per section name: (instruction byte offset, location), sorted by offset.
    lines: BTreeMap<String, Vec<(u32, SourceLoc)>>,
    /// Per section name: byte offsets of instructions with a CO-RE relocation.
    core: BTreeMap<String, BTreeSet<u32>>,
}

impl BtfExt {
    /// Parses the two sections; anything malformed yields an empty table.
    pub(crate) fn parse(btf: Option<&[u8]>, ext: Option<&[u8]>) -> BtfExt {
        match (btf, ext) {
            (Some(btf), Some(ext)) => parse(btf, ext).unwrap_or_default(),
            _ => BtfExt::default(),
        }
    }

    /// The source line of the instruction at byte offset `off` of `section`: the last line
    /// record at or before it.
    pub(crate) fn location(&self, section: &str, off: u32) -> Option<SourceLoc> {
        let records = self.lines.get(section)?;
        let i = records.partition_point(|(o, _)| *o <= off);
        records[..i].last().map(|(_, loc)| loc.clone())
    }

    /// Line records of `section` for the instructions in `[start, end)` bytes, as
    /// (instruction index from `start`, location).
    pub(crate) fn lines_in(&self, section: &str, start: u32, end: u32) -> Vec<(usize, SourceLoc)> {
        let Some(records) = self.lines.get(section) else {
            return Vec::new();
        };
        let mut out: Vec<(usize, SourceLoc)> = Vec::new();
        // The record in force at `start` may begin before it.
        if let Some(loc) = self.location(section, start) {
            out.push((0, loc));
        }
        for (off, loc) in records {
            if *off > start && *off < end {
                out.push((((off - start) / 8) as usize, loc.clone()));
            }
        }
        out
    }

    /// Byte offsets of the instructions of `section` that have a CO-RE relocation.
    pub(crate) fn core_relocations(&self, section: &str) -> impl Iterator<Item = u32> + '_ {
        self.core.get(section).into_iter().flatten().copied()
    }
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn string_at(strings: &[u8], off: u32) -> Option<String> {
    let tail = strings.get(off as usize..)?;
    let end = tail.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&tail[..end]).into_owned())
}

/// Calls `record(section name, record bytes)` for every record of one info block.
fn for_each_record(
    block: &[u8],
    strings: &[u8],
    mut record: impl FnMut(&str, &[u8]) -> Option<()>,
) -> Option<()> {
    let rec_size = u32_at(block, 0)? as usize;
    if rec_size == 0 {
        return None;
    }
    let mut pos = 4;
    while pos < block.len() {
        let section = string_at(strings, u32_at(block, pos)?)?;
        let n = u32_at(block, pos + 4)? as usize;
        pos += 8;
        for _ in 0..n {
            record(&section, block.get(pos..pos + rec_size)?)?;
            pos += rec_size;
        }
    }
    Some(())
}

fn parse(btf: &[u8], ext: &[u8]) -> Option<BtfExt> {
    if u16_at(btf, 0)? != BTF_MAGIC || u16_at(ext, 0)? != BTF_MAGIC {
        return None;
    }
    let hdr_len = u32_at(btf, 4)? as usize;
    let str_off = u32_at(btf, 16)? as usize;
    let str_len = u32_at(btf, 20)? as usize;
    let strings = btf.get(hdr_len + str_off..hdr_len + str_off + str_len)?;

    let ext_hdr = u32_at(ext, 4)? as usize;
    let block = |off_at: usize| -> Option<&[u8]> {
        let off = u32_at(ext, off_at)? as usize;
        let len = u32_at(ext, off_at + 4)? as usize;
        if len == 0 {
            return Some(&[]);
        }
        ext.get(ext_hdr + off..ext_hdr + off + len)
    };

    let mut out = BtfExt::default();
    let lines = block(16)?;
    if !lines.is_empty() {
        for_each_record(lines, strings, |section, rec| {
            let insn_off = u32_at(rec, 0)?;
            let file = string_at(strings, u32_at(rec, 4)?)?;
            let line_col = u32_at(rec, 12)?;
            out.lines.entry(section.to_string()).or_default().push((
                insn_off,
                SourceLoc {
                    file,
                    line: line_col >> 10,
                    column: line_col & 0x3ff,
                },
            ));
            Some(())
        })?;
    }
    for records in out.lines.values_mut() {
        records.sort_by_key(|(off, _)| *off);
    }
    if ext_hdr >= 32 {
        let core = block(24)?;
        if !core.is_empty() {
            for_each_record(core, strings, |section, rec| {
                out.core
                    .entry(section.to_string())
                    .or_default()
                    .insert(u32_at(rec, 0)?);
                Some(())
            })?;
        }
    }
    Some(out)
}
