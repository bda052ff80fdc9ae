//! The map from a backup's node ids to the ids the server gave the restored
//! nodes: the one part of a restore whose memory grows with the database, so
//! it is kept compact.
//!
//! - Ids are split at their last `:` into a prefix and a suffix. Prefixes
//!   repeat (Neo4j 5's `4:<database uuid>:`, ArcadeDB's `#<bucket>:`), so each
//!   distinct one is stored once and an entry keeps only its 16-bit number.
//! - Entries live back to back in one byte arena: an 8-byte header, then the
//!   two suffixes (or the 8 bytes of an integer id, before Neo4j 5).
//! - The index is an open-addressing table of 32-bit entry numbers, at most
//!   half full, sized up front from the backup's node count. A lookup
//!   compares the ids themselves, so equal hashes can never mix nodes up.
//!
//! About 30 bytes a node with ArcadeDB's ids, 40 with Neo4j 5's, where a map
//! of strings costs well over 100.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use neo4rs::{BoltInteger, BoltString, BoltType};

/// An id the server gave a created node: an `elementId` string (Neo4j 5 and
/// later) or an `id` integer (Neo4j 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewId {
    Text(String),
    Int(i64),
}

#[derive(Debug, PartialEq, Eq)]
pub enum IdMapError {
    /// The same backup id was inserted twice (a verified file has none).
    Duplicate(String),
    /// More nodes than a 32-bit entry number addresses, or an id suffix
    /// longer than 65,535 bytes.
    TooLarge,
}

/// Prefix number of a new id that is an integer.
const INT_ID: u16 = u16::MAX;
/// Prefix number meaning "no interned prefix: the suffix is the whole id"
/// (once 65,533 distinct prefixes are taken).
const WHOLE_ID: u16 = u16::MAX - 1;
const HEADER: usize = 8;

#[derive(Default)]
pub struct IdMap {
    arena: Vec<u8>,
    /// Start of each entry in the arena.
    entries: Vec<u64>,
    /// Entry number + 1; 0 is an empty place.
    table: Vec<u32>,
    prefixes: Vec<String>,
    prefix_numbers: HashMap<String, u16>,
}

fn split(id: &str) -> (&str, &str) {
    match id.rfind(':') {
        Some(i) => id.split_at(i + 1),
        None => ("", id),
    }
}

fn hash_of(id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

struct Entry<'a> {
    old_prefix: u16,
    old_suffix: &'a [u8],
    new_prefix: u16,
    new_suffix: &'a [u8],
}

impl IdMap {
    /// A map sized for `nodes` entries (more still fit; it grows).
    pub fn with_capacity(nodes: usize) -> IdMap {
        let mut m = IdMap::default();
        m.entries.reserve_exact(nodes);
        m.arena.reserve_exact(nodes.saturating_mul(HEADER + 16));
        m.table = vec![0; (nodes.max(8) * 2).next_power_of_two()];
        m
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes held, for `-v` output.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.entries.capacity() * 8
            + self.table.capacity() * 4
            + self
                .prefixes
                .iter()
                .map(|p| 2 * p.len() + 64)
                .sum::<usize>()
    }

    fn prefix_number(&mut self, prefix: &str) -> u16 {
        if let Some(&n) = self.prefix_numbers.get(prefix) {
            return n;
        }
        if self.prefixes.len() >= WHOLE_ID as usize {
            return WHOLE_ID;
        }
        let n = self.prefixes.len() as u16;
        self.prefixes.push(prefix.to_owned());
        self.prefix_numbers.insert(prefix.to_owned(), n);
        n
    }

    fn entry(&self, number: u32) -> Entry<'_> {
        let start = self.entries[number as usize] as usize;
        let h = &self.arena[start..start + HEADER];
        let field = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let (old_prefix, old_len, new_prefix, new_len) = (field(0), field(2), field(4), field(6));
        let old_at = start + HEADER;
        let new_at = old_at + old_len as usize;
        Entry {
            old_prefix,
            old_suffix: &self.arena[old_at..new_at],
            new_prefix,
            new_suffix: &self.arena[new_at..new_at + new_len as usize],
        }
    }

    fn prefix_text(&self, number: u16) -> &str {
        if number == WHOLE_ID {
            ""
        } else {
            &self.prefixes[number as usize]
        }
    }

    fn old_is(&self, number: u32, id: &str) -> bool {
        let e = self.entry(number);
        let prefix = self.prefix_text(e.old_prefix);
        id.len() == prefix.len() + e.old_suffix.len()
            && id.as_bytes().starts_with(prefix.as_bytes())
            && &id.as_bytes()[prefix.len()..] == e.old_suffix
    }

    fn new_of(&self, number: u32) -> NewId {
        let e = self.entry(number);
        if e.new_prefix == INT_ID {
            let bytes: [u8; 8] = e.new_suffix.try_into().expect("integer ids take 8 bytes");
            return NewId::Int(i64::from_le_bytes(bytes));
        }
        let mut text = String::with_capacity(64);
        text.push_str(self.prefix_text(e.new_prefix));
        text.push_str(std::str::from_utf8(e.new_suffix).expect("stored from a str"));
        NewId::Text(text)
    }

    /// Where `id` is (`Ok`) or would go (`Err`), by linear probing from `hash`.
    fn find(&self, id: &str, hash: u64) -> Result<usize, usize> {
        let mask = self.table.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            match self.table[at] {
                0 => return Err(at),
                n if self.old_is(n - 1, id) => return Ok(at),
                _ => at = (at + 1) & mask,
            }
        }
    }

    fn grow_if_half_full(&mut self) {
        if self.table.len() >= 8 && (self.entries.len() + 1) * 2 <= self.table.len() {
            return;
        }
        let size = (self.table.len() * 2).max(16);
        let mut table = vec![0u32; size];
        for number in 0..self.entries.len() as u32 {
            let e = self.entry(number);
            let mut id = self.prefix_text(e.old_prefix).to_owned();
            id.push_str(std::str::from_utf8(e.old_suffix).expect("stored from a str"));
            let mut at = hash_of(&id) as usize & (size - 1);
            while table[at] != 0 {
                at = (at + 1) & (size - 1);
            }
            table[at] = number + 1;
        }
        self.table = table;
    }

    pub fn insert(&mut self, old: &str, new: NewId) -> Result<(), IdMapError> {
        self.insert_hashed(old, new, hash_of(old))
    }

    fn insert_hashed(&mut self, old: &str, new: NewId, hash: u64) -> Result<(), IdMapError> {
        let number = u32::try_from(self.entries.len())
            .ok()
            .filter(|n| *n < u32::MAX)
            .ok_or(IdMapError::TooLarge)?;
        self.grow_if_half_full();
        let place = match self.find(old, hash) {
            Ok(_) => return Err(IdMapError::Duplicate(old.to_owned())),
            Err(place) => place,
        };
        let (old_prefix, old_suffix) = self.interned(old);
        let (new_prefix, new_suffix) = match &new {
            NewId::Text(s) => {
                let (p, suffix) = self.interned(s);
                (p, suffix.as_bytes().to_vec())
            }
            NewId::Int(i) => (INT_ID, i.to_le_bytes().to_vec()),
        };
        let old_len = u16::try_from(old_suffix.len()).map_err(|_| IdMapError::TooLarge)?;
        let new_len = u16::try_from(new_suffix.len()).map_err(|_| IdMapError::TooLarge)?;
        self.entries.push(self.arena.len() as u64);
        for field in [old_prefix, old_len, new_prefix, new_len] {
            self.arena.extend_from_slice(&field.to_le_bytes());
        }
        self.arena.extend_from_slice(old_suffix.as_bytes());
        self.arena.extend_from_slice(&new_suffix);
        self.table[place] = number + 1;
        Ok(())
    }

    /// The prefix number of `id` and the part of it stored in the entry.
    fn interned<'a>(&mut self, id: &'a str) -> (u16, &'a str) {
        let (prefix, suffix) = split(id);
        match self.prefix_number(prefix) {
            WHOLE_ID => (WHOLE_ID, id),
            n => (n, suffix),
        }
    }

    pub fn get(&self, old: &str) -> Option<NewId> {
        self.get_hashed(old, hash_of(old))
    }

    fn get_hashed(&self, old: &str, hash: u64) -> Option<NewId> {
        let at = self.find(old, hash).ok()?;
        Some(self.new_of(self.table[at] - 1))
    }

    /// The new id as a query parameter.
    pub fn get_bolt(&self, old: &str) -> Option<BoltType> {
        self.get(old).map(|id| match id {
            NewId::Text(value) => BoltType::String(BoltString { value }),
            NewId::Int(i) => BoltType::Integer(BoltInteger::new(i)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> NewId {
        NewId::Text(s.to_owned())
    }

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        for capacity in [0, 10_000] {
            let mut m = IdMap::with_capacity(capacity);
            for i in 0..10_000 {
                let new = text(&format!("4:0f5e8a2c-9d3b-4c1e-8f7a-6b5d4c3b2a19:{i}"));
                m.insert(&format!("#{}:{i}", i % 7), new).unwrap();
            }
            m.insert("9", NewId::Int(-5)).unwrap();
            m.insert("", text("empty")).unwrap();
            m.insert("a:b:", text(":")).unwrap();
            assert_eq!(m.len(), 10_003);
            for i in (0..10_000).step_by(97) {
                let want = text(&format!("4:0f5e8a2c-9d3b-4c1e-8f7a-6b5d4c3b2a19:{i}"));
                assert_eq!(m.get(&format!("#{}:{i}", i % 7)), Some(want));
            }
            assert_eq!(m.get("9"), Some(NewId::Int(-5)));
            assert_eq!(m.get(""), Some(text("empty")));
            assert_eq!(m.get("a:b:"), Some(text(":")));
            assert_eq!(m.get("#0:1"), None);
            assert_eq!(m.get("#1"), None);
            assert_eq!(
                m.get_bolt("9"),
                Some(BoltType::Integer(BoltInteger::new(-5)))
            );
            assert_eq!(
                m.insert("#5:5", text("again")),
                Err(IdMapError::Duplicate("#5:5".into()))
            );
            let per_node = m.heap_bytes() / m.len();
            assert!(per_node < 64, "{per_node} bytes a node");
        }
    }

    #[test]
    fn equal_hashes_never_mix_up_nodes() {
        let mut m = IdMap::with_capacity(4);
        for id in ["a", "b", "c", "x:1", "y:1"] {
            m.insert_hashed(id, text(&format!("new-{id}")), 42).unwrap();
        }
        for id in ["a", "b", "c", "x:1", "y:1"] {
            assert_eq!(m.get_hashed(id, 42), Some(text(&format!("new-{id}"))));
        }
        assert_eq!(m.get_hashed("d", 42), None);
        assert_eq!(m.get_hashed("z:1", 42), None);
        assert_eq!(
            m.insert_hashed("b", text("again"), 42),
            Err(IdMapError::Duplicate("b".into()))
        );
    }

    #[test]
    fn ids_with_many_prefixes_still_round_trip() {
        let mut m = IdMap::with_capacity(0);
        for i in 0..70_000 {
            m.insert(&format!("p{i}:x"), text(&format!("q{i}:y")))
                .unwrap();
        }
        for i in (0..70_000).step_by(999) {
            assert_eq!(m.get(&format!("p{i}:x")), Some(text(&format!("q{i}:y"))));
        }
    }
}
