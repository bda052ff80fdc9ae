//! The map from a backup's node ids to the ids the server gave the restored
//! nodes: the one part of a restore whose memory grows with the database.
//! Kept compact: every id's text lives in one growing byte arena, and the
//! index holds only a 64-bit hash of the backup id and a 32-bit slot number
//! per node (about 40 bytes a node in all, where a map of strings costs over
//! 100). A hash shared by two different backup ids is found by comparing the
//! ids themselves and the second one goes to a small overflow map, so a
//! collision can never send a relationship to the wrong node.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use neo4rs::{BoltInteger, BoltString, BoltType};

use crate::backup::writer::IdHashed;

/// An id the server gave a created node: an `elementId` string (Neo4j 5 and
/// later) or an `id` integer (Neo4j 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewId {
    Text(String),
    Int(i64),
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Start of the backup id in the arena; the new id follows it.
    start: u64,
    old_len: u32,
    new_len: u32,
    /// The new id is an integer, stored as 8 little-endian bytes.
    int: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum IdMapError {
    /// The same backup id was inserted twice (a verified file has none).
    Duplicate(String),
    /// More nodes than a 32-bit slot number can address.
    Full,
}

#[derive(Default)]
pub struct IdMap {
    arena: Vec<u8>,
    slots: Vec<Slot>,
    by_hash: HashMap<u64, u32, IdHashed>,
    /// Backup ids whose hash an earlier id already took.
    overflow: HashMap<Box<str>, u32>,
}

fn hash_of(id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl IdMap {
    pub fn new() -> IdMap {
        IdMap::default()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Bytes held, for the figures in `-v` output.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.by_hash.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            + self.overflow.len() * 64
    }

    pub fn insert(&mut self, old: &str, new: NewId) -> Result<(), IdMapError> {
        self.insert_hashed(old, new, hash_of(old))
    }

    fn insert_hashed(&mut self, old: &str, new: NewId, h: u64) -> Result<(), IdMapError> {
        let index = u32::try_from(self.slots.len()).map_err(|_| IdMapError::Full)?;
        if let Some(&taken) = self.by_hash.get(&h) {
            if self.old_of(taken) == old || self.overflow.contains_key(old) {
                return Err(IdMapError::Duplicate(old.to_owned()));
            }
            self.overflow.insert(old.into(), index);
        } else {
            self.by_hash.insert(h, index);
        }
        let start = self.arena.len() as u64;
        self.arena.extend_from_slice(old.as_bytes());
        let (new_len, int) = match &new {
            NewId::Text(s) => {
                self.arena.extend_from_slice(s.as_bytes());
                (s.len(), false)
            }
            NewId::Int(i) => {
                self.arena.extend_from_slice(&i.to_le_bytes());
                (8, true)
            }
        };
        self.slots.push(Slot {
            start,
            old_len: u32::try_from(old.len()).map_err(|_| IdMapError::Full)?,
            new_len: new_len as u32,
            int,
        });
        Ok(())
    }

    fn old_of(&self, index: u32) -> &str {
        let s = self.slots[index as usize];
        let bytes = &self.arena[s.start as usize..s.start as usize + s.old_len as usize];
        std::str::from_utf8(bytes).expect("the arena holds the str that was inserted")
    }

    fn new_of(&self, index: u32) -> NewId {
        let s = self.slots[index as usize];
        let from = s.start as usize + s.old_len as usize;
        let bytes = &self.arena[from..from + s.new_len as usize];
        if s.int {
            NewId::Int(i64::from_le_bytes(
                bytes.try_into().expect("integer ids are stored as 8 bytes"),
            ))
        } else {
            NewId::Text(
                std::str::from_utf8(bytes)
                    .expect("the arena holds the str that was inserted")
                    .to_owned(),
            )
        }
    }

    pub fn get(&self, old: &str) -> Option<NewId> {
        self.get_hashed(old, hash_of(old))
    }

    fn get_hashed(&self, old: &str, h: u64) -> Option<NewId> {
        let &index = self.by_hash.get(&h)?;
        if self.old_of(index) == old {
            return Some(self.new_of(index));
        }
        self.overflow.get(old).map(|&i| self.new_of(i))
    }

    /// The new id as a query parameter.
    pub fn get_bolt(&self, old: &str) -> Option<BoltType> {
        self.get(old).map(|id| match id {
            NewId::Text(s) => BoltType::String(BoltString { value: s }),
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
        let mut m = IdMap::new();
        for i in 0..10_000 {
            m.insert(&format!("4:abc:{i}"), text(&format!("#7:{i}")))
                .unwrap();
        }
        m.insert("9", NewId::Int(-5)).unwrap();
        m.insert("", text("empty")).unwrap();
        assert_eq!(m.len(), 10_002);
        for i in (0..10_000).step_by(97) {
            assert_eq!(m.get(&format!("4:abc:{i}")), Some(text(&format!("#7:{i}"))));
        }
        assert_eq!(m.get("9"), Some(NewId::Int(-5)));
        assert_eq!(m.get(""), Some(text("empty")));
        assert_eq!(m.get("4:abc:10000"), None);
        assert_eq!(
            m.get_bolt("9"),
            Some(BoltType::Integer(BoltInteger::new(-5)))
        );
        assert_eq!(
            m.insert("4:abc:5", text("again")),
            Err(IdMapError::Duplicate("4:abc:5".into()))
        );
        // Compact: well under the 100+ bytes a node of a map of strings.
        assert!(
            m.heap_bytes() / m.len() < 64,
            "{} bytes a node",
            m.heap_bytes() / m.len()
        );
    }

    #[test]
    fn colliding_hashes_never_mix_up_nodes() {
        let mut m = IdMap::new();
        // Three ids forced onto one hash.
        for id in ["a", "b", "c"] {
            m.insert_hashed(id, text(&format!("new-{id}")), 42).unwrap();
        }
        m.insert_hashed("x", NewId::Int(7), 43).unwrap();
        for id in ["a", "b", "c"] {
            assert_eq!(m.get_hashed(id, 42), Some(text(&format!("new-{id}"))));
        }
        assert_eq!(m.get_hashed("d", 42), None);
        assert_eq!(m.get_hashed("x", 43), Some(NewId::Int(7)));
        assert_eq!(m.get_hashed("a", 43), None);
        for id in ["a", "b"] {
            assert_eq!(
                m.insert_hashed(id, text("again"), 42),
                Err(IdMapError::Duplicate(id.into()))
            );
        }
    }
}
