//! A small, independent reader of a zip's central directory.
//!
//! The zip crate indexes entries by name, so an archive holding two entries with the same
//! name silently shows only one of them, and different unzip tools would pick different
//! ones. Reading the raw central directory here lets the bundle checks see every entry
//! exactly as written: raw name bytes, sizes, flags and Unix mode.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_LEN: u64 = 22;
const MAX_COMMENT: u64 = 0xFFFF;
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// "Version made by" high byte for Unix: only then do the high external attribute bits
/// carry a Unix mode.
const MADE_BY_UNIX: u8 = 3;
const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;

/// One central-directory record, as written.
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    pub(crate) name: Vec<u8>,
    pub(crate) flags: u16,
    pub(crate) compressed_size: u64,
    pub(crate) uncompressed_size: u64,
    made_by: u16,
    external_attributes: u32,
}

impl RawEntry {
    pub(crate) fn is_encrypted(&self) -> bool {
        self.flags & 1 != 0
    }

    pub(crate) fn is_symlink(&self) -> bool {
        (self.made_by >> 8) as u8 == MADE_BY_UNIX
            && (self.external_attributes >> 16) & S_IFMT == S_IFLNK
    }
}

/// Where the central directory starts and how many records its end record declares.
pub(crate) struct CentralDirectory {
    pub(crate) declared_entries: u64,
    offset: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

fn malformed(reason: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.to_string())
}

/// Finds the end-of-central-directory record (and its zip64 form when present).
pub(crate) fn locate(file: &mut File) -> io::Result<CentralDirectory> {
    let len = file.seek(SeekFrom::End(0))?;
    if len < EOCD_LEN {
        return Err(malformed("too short to be a zip archive"));
    }
    let tail_len = len.min(EOCD_LEN + MAX_COMMENT);
    let tail_start = len - tail_len;
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(tail_start))?;
    file.read_exact(&mut tail)?;

    let mut found = None;
    for pos in (0..=tail.len() - EOCD_LEN as usize).rev() {
        if u32_at(&tail, pos) == EOCD_SIG {
            let comment_len = u16_at(&tail, pos + 20) as usize;
            if pos + EOCD_LEN as usize + comment_len <= tail.len() {
                found = Some(pos);
                break;
            }
        }
    }
    let pos = found.ok_or_else(|| malformed("no end-of-central-directory record"))?;
    let eocd = &tail[pos..];
    let mut entries = u64::from(u16_at(eocd, 10));
    let mut offset = u64::from(u32_at(eocd, 16));

    let needs_zip64 = entries == 0xFFFF || offset == 0xFFFF_FFFF;
    let eocd_abs = tail_start + pos as u64;
    if needs_zip64 && eocd_abs >= 20 {
        let mut locator = [0u8; 20];
        file.seek(SeekFrom::Start(eocd_abs - 20))?;
        file.read_exact(&mut locator)?;
        if u32_at(&locator, 0) == EOCD64_LOCATOR_SIG {
            let eocd64_at = u64_at(&locator, 8);
            let mut eocd64 = [0u8; 56];
            file.seek(SeekFrom::Start(eocd64_at))?;
            file.read_exact(&mut eocd64)?;
            if u32_at(&eocd64, 0) != EOCD64_SIG {
                return Err(malformed("broken zip64 end record"));
            }
            entries = u64_at(&eocd64, 32);
            offset = u64_at(&eocd64, 48);
        }
    }
    if offset >= len {
        return Err(malformed("central directory offset lies beyond the file"));
    }
    Ok(CentralDirectory {
        declared_entries: entries,
        offset,
    })
}

/// Reads every central-directory record. Callers check `declared_entries` against their
/// limit first, so a lying count cannot make this allocate without bound.
pub(crate) fn read_entries(file: &mut File, dir: &CentralDirectory) -> io::Result<Vec<RawEntry>> {
    file.seek(SeekFrom::Start(dir.offset))?;
    let mut reader = BufReader::new(file);
    let mut out = Vec::with_capacity(dir.declared_entries.min(10_000) as usize);
    for _ in 0..dir.declared_entries {
        let mut fixed = [0u8; 46];
        reader.read_exact(&mut fixed)?;
        if u32_at(&fixed, 0) != CENTRAL_SIG {
            return Err(malformed("central directory record has a bad signature"));
        }
        let name_len = u16_at(&fixed, 28) as usize;
        let extra_len = u16_at(&fixed, 30) as usize;
        let comment_len = u16_at(&fixed, 32) as usize;
        let mut name = vec![0u8; name_len];
        reader.read_exact(&mut name)?;
        let mut extra = vec![0u8; extra_len];
        reader.read_exact(&mut extra)?;
        io::copy(&mut (&mut reader).take(comment_len as u64), &mut io::sink())?;

        let mut compressed_size = u64::from(u32_at(&fixed, 20));
        let mut uncompressed_size = u64::from(u32_at(&fixed, 24));
        apply_zip64_extra(&extra, &mut uncompressed_size, &mut compressed_size);
        out.push(RawEntry {
            name,
            flags: u16_at(&fixed, 8),
            compressed_size,
            uncompressed_size,
            made_by: u16_at(&fixed, 4),
            external_attributes: u32_at(&fixed, 38),
        });
    }
    Ok(out)
}

/// Replaces 32-bit size placeholders with the 64-bit values of the zip64 extra field.
fn apply_zip64_extra(extra: &[u8], uncompressed: &mut u64, compressed: &mut u64) {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let id = u16_at(extra, at);
        let len = u16_at(extra, at + 2) as usize;
        let body = &extra[(at + 4).min(extra.len())..(at + 4 + len).min(extra.len())];
        if id == ZIP64_EXTRA_ID {
            let mut field = 0;
            for value in [uncompressed, compressed] {
                if *value == 0xFFFF_FFFF && field + 8 <= body.len() {
                    *value = u64_at(body, field);
                    field += 8;
                }
            }
            return;
        }
        at += 4 + len;
    }
}
