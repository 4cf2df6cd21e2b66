//! Disjoint sets over dense ranks `0..n`, where every set's root is its smallest member.
//!
//! Linking the larger root under the smaller one (instead of by size or rank) keeps the root of
//! a component equal to its minimum, so a caller that numbers rows in node order reads each
//! row's label (the smallest node of its component) straight off `roots`. Path halving keeps
//! `find` amortised near-constant in practice; without union by size the worst case is
//! O(log n) per operation, which is fine for star and chain edges.

/// Parent pointers of `n` ranks (u32: 4 bytes a row; callers check `n` fits).
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: u32) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Root (smallest member) of `x`'s set, halving the path on the way.
    pub fn find(&mut self, mut x: u32) -> u32 {
        loop {
            let p = self.parent[x as usize];
            if p == x {
                return x;
            }
            let g = self.parent[p as usize];
            self.parent[x as usize] = g;
            x = g;
        }
    }

    /// Merges the sets of `a` and `b`; true when they were apart.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        true
    }

    /// Root of every rank. Parents are always smaller than their children, so one pass in
    /// rank order resolves each rank from its parent's already final root.
    pub fn roots(&mut self) -> Vec<u32> {
        for x in 0..self.parent.len() {
            let p = self.parent[x] as usize;
            self.parent[x] = self.parent[p];
        }
        self.parent.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_component_minima() {
        let mut uf = UnionFind::new(8);
        assert!(uf.union(5, 3));
        assert!(uf.union(7, 5));
        assert!(!uf.union(3, 7));
        assert!(uf.union(6, 1));
        assert!(uf.union(6, 3));
        assert_eq!(uf.roots(), [0, 1, 2, 1, 4, 1, 1, 1]);
    }

    #[test]
    fn long_chain_in_scrambled_order() {
        // 10,000 ranks linked as a chain in a scrambled order: one component rooted at 0
        let n = 10_000u32;
        let order: Vec<u32> = (0..n).map(|i| (i * 7919) % n).collect();
        let mut uf = UnionFind::new(n);
        for w in order.windows(2) {
            uf.union(w[0], w[1]);
        }
        assert!(uf.roots().iter().all(|&r| r == 0));
    }

    #[test]
    fn parents_never_exceed_children() {
        let mut uf = UnionFind::new(50);
        let mut state = 17u64;
        for _ in 0..80 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (a, b) = ((state >> 33) as u32 % 50, (state >> 13) as u32 % 50);
            uf.union(a, b);
            assert!(uf.parent.iter().enumerate().all(|(x, &p)| p as usize <= x));
        }
    }
}
