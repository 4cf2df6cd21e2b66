//! LSH band buckets as star edges: rows with equal band key form a bucket, and each member is
//! linked to the bucket's smallest rank (its root), `|bucket| - 1` edges and never all pairs.
//!
//! A band arrives as `(key, rank)` pairs of its usable rows; one sort groups the buckets with
//! each root first. Without a similarity check the stars are unioned at once; with one, the
//! edges whose ends are not yet connected are handed back to be verified (an edge between
//! already connected rows cannot change the components, so later bands verify less).

use rayon::prelude::*;

use super::union_find::UnionFind;

/// Sorts `pairs` by (key, rank) and calls `edge(member, root)` for every non-root member.
fn for_each_star_edge(pairs: &mut [(u64, u32)], mut edge: impl FnMut(u32, u32)) {
    pairs.par_sort_unstable();
    for bucket in pairs.chunk_by(|x, y| x.0 == y.0) {
        let root = bucket[0].1;
        for &(_, member) in &bucket[1..] {
            edge(member, root);
        }
    }
}

/// Unions every bucket's members with its root; returns how many sets merged.
pub fn star_union(pairs: &mut [(u64, u32)], uf: &mut UnionFind) -> usize {
    let mut merged = 0;
    for_each_star_edge(pairs, |member, root| {
        merged += usize::from(uf.union(member, root))
    });
    merged
}

/// Star edges `(member, root)` whose ends are not connected yet.
pub fn star_candidates(pairs: &mut [(u64, u32)], uf: &mut UnionFind) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for_each_star_edge(pairs, |member, root| {
        if uf.find(member) != uf.find(root) {
            out.push((member, root));
        }
    });
    out
}

/// Share of equal positions of two signatures, over the longer one (missing positions differ).
pub fn agreement(a: &[u64], b: &[u64]) -> f64 {
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / longest as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_link_to_their_smallest_rank() {
        // bucket 9: ranks 4, 2, 7 -> root 2; bucket 3: ranks 5, 6; rank 1 alone
        let mut pairs = vec![(9, 4), (3, 6), (9, 2), (1, 1), (9, 7), (3, 5)];
        let mut uf = UnionFind::new(8);
        let mut edges = star_candidates(&mut pairs.clone(), &mut uf);
        edges.sort_unstable();
        assert_eq!(edges, [(4, 2), (6, 5), (7, 2)]);
        assert_eq!(star_union(&mut pairs, &mut uf), 3);
        assert_eq!(uf.roots(), [0, 1, 2, 3, 2, 5, 5, 2]);
    }

    #[test]
    fn connected_ends_are_no_candidates() {
        let mut uf = UnionFind::new(4);
        uf.union(0, 3);
        let edges = star_candidates(&mut [(5, 3), (5, 0), (6, 1), (6, 2)], &mut uf);
        assert_eq!(edges, [(2, 1)]);
    }

    #[test]
    fn bands_chain_buckets_into_components() {
        // band 1 joins {0, 1}, band 2 joins {1, 2}: one component rooted at 0
        let mut uf = UnionFind::new(4);
        star_union(&mut [(1, 0), (1, 1), (2, 2), (3, 3)], &mut uf);
        star_union(&mut [(8, 0), (9, 1), (9, 2), (7, 3)], &mut uf);
        assert_eq!(uf.roots(), [0, 0, 0, 3]);
    }

    #[test]
    fn agreement_counts_equal_positions() {
        assert_eq!(agreement(&[1, 2, 3, 4], &[1, 9, 3, 4]), 0.75);
        assert_eq!(agreement(&[1, 2], &[1, 2, 3, 4]), 0.5);
        assert_eq!(agreement(&[], &[]), 0.0);
    }
}
