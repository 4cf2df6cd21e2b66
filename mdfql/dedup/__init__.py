"""Deduplication as relational operators over whole relations: MinHash LSH clusters
(`lsh_cluster`), image-hash clusters (`hamming_cluster`), BFF-style n-gram dedup
(`ngram_dedup`), and `normalize_url` for URL-level anti joins. All are plain Daft plans (joins,
group-bys, windows) whose results do not depend on partitioning or runner."""
