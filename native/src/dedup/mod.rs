//! Clustering kernels for near-dedup over spilled keys (`mdfql/dedup/spilled.py`): a union-find
//! over dense node ranks, LSH band buckets as star edges, multi-index Hamming search, and the
//! signature agreement that verifies LSH candidates. Memory is the union-find (4 bytes a row)
//! plus the one band being sorted; the caller streams bands in one at a time.

mod buckets;
mod hamming;
mod py;
mod union_find;

pub use py::register;
