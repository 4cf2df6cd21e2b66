//! An exact set of host names built for millions of entries: the UT1 blocklist RefinedWeb uses
//! holds about 4.5 million domains.
//!
//! A `HashSet<Box<str>>` spends a 16-byte pointer, a heap allocation and its allocator overhead
//! on every name (~360 MB for UT1). Here every name lives in one arena, each followed by `\n`,
//! and the hash table holds only its 4-byte start offset (~160 MB for UT1, most of it the names).

use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_64;

pub struct DomainSet {
    /// Every name, each followed by `\n` (names never contain one).
    arena: Vec<u8>,
    /// Start offset in `arena` of each distinct name, keyed by the hash of the name.
    table: HashTable<u32>,
}

/// The name that starts at `start` (up to its `\n`).
fn name_at(arena: &[u8], start: u32) -> &[u8] {
    let rest = &arena[start as usize..];
    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    &rest[..end]
}

/// Gathers names, then builds the table at its final size in one go: growing it entry by entry
/// would rehash every name (a random read into the arena each) at every doubling.
#[derive(Default)]
pub struct DomainSetBuilder {
    arena: Vec<u8>,
    /// (hash, start offset) per name pushed, duplicates included.
    pending: Vec<(u64, u32)>,
}

impl DomainSetBuilder {
    /// Add `name` (already normalised, without `\n`); an error once the arena outgrows 32-bit
    /// offsets (4 GiB of names).
    pub fn push(&mut self, name: &str) -> Result<(), String> {
        debug_assert!(!name.contains('\n'));
        let start = u32::try_from(self.arena.len())
            .map_err(|_| "domain list too large (over 4 GiB of names)".to_string())?;
        self.arena.extend_from_slice(name.as_bytes());
        self.arena.push(b'\n');
        self.pending.push((xxh3_64(name.as_bytes()), start));
        Ok(())
    }

    pub fn build(self) -> DomainSet {
        let Self { mut arena, pending } = self;
        arena.shrink_to_fit();
        let mut table = HashTable::with_capacity(pending.len());
        for (hash, start) in pending {
            let name = name_at(&arena, start);
            if table.find(hash, |&s| name_at(&arena, s) == name).is_none() {
                // never rehashes: the table was sized for every name
                table.insert_unique(hash, start, |&s| xxh3_64(name_at(&arena, s)));
            }
        }
        DomainSet { arena, table }
    }
}

impl DomainSet {
    pub fn contains(&self, name: &str) -> bool {
        let key = name.as_bytes();
        self.table
            .find(xxh3_64(key), |&s| name_at(&self.arena, s) == key)
            .is_some()
    }

    /// Distinct names.
    pub fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn set_of<'a>(names: impl IntoIterator<Item = &'a str>) -> DomainSet {
        let mut b = DomainSetBuilder::default();
        names.into_iter().for_each(|n| b.push(n).unwrap());
        b.build()
    }

    #[test]
    fn lookup_and_duplicates() {
        assert_eq!(set_of([]).len(), 0);
        let set = set_of(["example.com", "a.example.com", "example.com"]);
        assert_eq!(set.len(), 2);
        assert!(set.contains("example.com") && set.contains("a.example.com"));
        // a prefix or an extension of a stored name is not that name
        assert!(!set.contains("example.co") && !set.contains("example.com.au"));
        assert!(!set.contains("") && !set.contains("com"));
    }

    proptest! {
        #[test]
        fn agrees_with_a_hash_set(
            names in proptest::collection::vec("[a-z0-9.-]{0,12}", 0..200),
            probes in proptest::collection::vec("[a-z0-9.-]{0,12}", 0..50),
        ) {
            let set = set_of(names.iter().map(String::as_str));
            let reference: HashSet<&str> = names.iter().map(String::as_str).collect();
            prop_assert_eq!(set.len(), reference.len());
            for p in probes.iter().chain(&names) {
                prop_assert_eq!(set.contains(p), reference.contains(p.as_str()));
            }
        }
    }
}
