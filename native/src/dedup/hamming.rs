//! Near-duplicate 64-bit hashes by multi-index hashing (see `mdfql/dedup/hamming.py`).
//!
//! The 64 bits are cut into `max_distance + 1` bands; hashes within Hamming distance d agree
//! exactly on at least one band (pigeonhole), so they share that band's bucket. Within a bucket,
//! sorted by (hash, rank), each hash is compared with the next `fanout` ones, and a pair within
//! `max_distance` bits is unioned: exact while no bucket holds more than `fanout + 1` hashes.

use rayon::prelude::*;

use super::union_find::UnionFind;

/// `(shift, width)` of each of the `max_distance + 1` bands covering the 64 bits; the first
/// `64 % bands` bands are one bit wider.
pub fn band_slices(max_distance: u32) -> Vec<(u32, u32)> {
    let n = max_distance + 1;
    let mut shift = 0;
    (0..n)
        .map(|i| {
            let width = 64 / n + u32::from(i < 64 % n);
            let slice = (shift, width);
            shift += width;
            slice
        })
        .collect()
}

/// Unions the pairs of `(hashes[i], ranks[i])` found by multi-index hashing; returns how many
/// sets merged. `max_distance` must be below 64 and `fanout` positive.
pub fn hamming_union(
    hashes: &[u64],
    ranks: &[u32],
    max_distance: u32,
    fanout: usize,
    uf: &mut UnionFind,
) -> usize {
    let mut merged = 0;
    let mut items: Vec<(u64, u64, u32)> = Vec::with_capacity(hashes.len());
    for (shift, width) in band_slices(max_distance) {
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        items.clear();
        items.extend(
            hashes
                .iter()
                .zip(ranks)
                .map(|(&h, &r)| ((h >> shift) & mask, h, r)),
        );
        items.par_sort_unstable();
        for bucket in items.chunk_by(|x, y| x.0 == y.0) {
            for (i, &(_, h, a)) in bucket.iter().enumerate() {
                for &(_, g, b) in bucket.iter().skip(i + 1).take(fanout) {
                    if (h ^ g).count_ones() <= max_distance {
                        merged += usize::from(uf.union(a, b));
                    }
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(hashes: &[u64], max_distance: u32, fanout: usize) -> Vec<u32> {
        let ranks: Vec<u32> = (0..hashes.len() as u32).collect();
        let mut uf = UnionFind::new(hashes.len() as u32);
        hamming_union(hashes, &ranks, max_distance, fanout, &mut uf);
        uf.roots()
    }

    #[test]
    fn bands_cover_all_bits() {
        for d in [0, 1, 4, 10, 63] {
            let slices = band_slices(d);
            assert_eq!(slices.len(), d as usize + 1);
            assert_eq!(slices.iter().map(|s| s.1).sum::<u32>(), 64);
            assert!(slices.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
        }
        assert_eq!(band_slices(2), [(0, 22), (22, 21), (43, 21)]);
    }

    #[test]
    fn pairs_within_the_distance_cluster() {
        let base = 0x0123_4567_89ab_cdef_u64;
        // 3 bits apart, spread over several bands; 12 bits apart; an unrelated hash
        let near = base ^ (1 | 1 << 30 | 1 << 63);
        let far = base ^ 0xfff;
        assert_eq!(roots(&[base, near, far, !base], 4, 8), [0, 0, 2, 3]);
        assert_eq!(roots(&[base, near, far], 12, 8), [0, 0, 0]);
        assert_eq!(roots(&[base, base, near], 0, 8), [0, 0, 2]);
    }

    #[test]
    fn matches_all_pairs_when_buckets_are_small() {
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        let mut hashes: Vec<u64> = (0..60).map(|_| next()).collect();
        for i in 0..40 {
            let flips = (next() >> 60) as u32; // 0..15 bits
            let mut h = hashes[i];
            for _ in 0..flips {
                h ^= 1 << (next() >> 58);
            }
            hashes.push(h);
        }
        let d = 6;
        let mut want = UnionFind::new(hashes.len() as u32);
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                if (hashes[i] ^ hashes[j]).count_ones() <= d {
                    want.union(i as u32, j as u32);
                }
            }
        }
        assert_eq!(roots(&hashes, d, hashes.len()), want.roots());
    }

    #[test]
    fn fanout_bounds_the_comparisons() {
        // five equal hashes: fanout 1 still chains them through consecutive pairs
        assert_eq!(roots(&[7; 5], 3, 1), [0; 5]);
    }
}
