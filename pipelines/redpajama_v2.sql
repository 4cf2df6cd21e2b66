-- RedPajama-V2 (Together 2023; arXiv:2411.12372, section 4; togethercomputer/RedPajama-Data,
-- app/src and configs/rp_v2.0.conf) as an mdfql pipeline: annotate, don't drop. Every document
-- that passes extraction and language id is kept in curated.rpv2_signals with its rps_* quality
-- signals; near-duplicates are published as id lists (curated.rpv2_duplicates, one row per page
-- and Jaccard level), as RPv2 publishes its duplicates/ lists.
--
--   mdfql sample && mdfql run pipelines/redpajama_v2.sql

SET $input = 'sample/sample.warc.gz';

-- Input: HTTP 200 HTML responses of the WARC. RPv2 started from CCNet's output over WET files.
CREATE VIEW responses AS
  SELECT record_id, url, warc_date, html
  FROM read_warc($input)
  WHERE status = 200 AND content_type IN ('text/html', 'application/xhtml+xml');

-- Text extraction: RPv2 used CCNet over Common Crawl's WET text (no main-content extraction,
-- CCNet's paragraph dedup); mdfql extracts the main content from the HTML instead.
CREATE VIEW extracted AS
  SELECT record_id, url, warc_date, trim(extract_text(html, url)) AS text
  FROM responses;

-- Language id: RPv2 kept en, de, fr, es, it (CCNet's fastText lid.176, configs/rp_v2.0.conf
-- LANGUAGES); no score threshold is applied here.
CREATE VIEW identified AS
  SELECT *, lang_id(text) AS lid
  FROM extracted
  WHERE text IS NOT NULL AND text <> '';

CREATE VIEW in_language AS
  SELECT record_id, url, warc_date, text, lid.lang AS language, lid.score AS language_score
  FROM identified
  WHERE lid.lang IN ('en', 'de', 'fr', 'es', 'it');

-- Quality signals (section 4.1; app/src/core/quality_signals): annotations, no filter.
CREATE VIEW annotated AS
  SELECT *, rpv2_signals(text) AS rps
  FROM in_language;

-- MinHash (RPv2's minhash step and app/src/run_lsh.py): RPv2 hashes word
-- 13-grams of the normalised text (punctuation removed, lower case, whitespace collapsed,
-- NFD) with 128 permutations (MINHASH_NGRAM_SIZE=13, MINHASH_NUM_PERMUTATIONS=128), once for
-- all four levels. Differences: mdfql's minhash hashes with xxh3 and (a*h+b) mod 2^64 (RPv2:
-- sha1-32 and mod 2^61-1), so signatures differ bit for bit, and a text shorter than 13 words
-- is one shingle here where RPv2 gives it no signature.
CREATE VIEW signed AS
  SELECT *, minhash(text, num_hashes := 128, ngram := 13, seed := 42) AS signature
  FROM annotated;

-- LSH bands per level from RPv2's optimal_param over 128 permutations: Jaccard 1.0 -> 1 x 128,
-- 0.9 -> 5 x 25, 0.8 -> 9 x 13, 0.7 -> 14 x 9. Connected components of band collisions; the
-- cluster id is its smallest record_id (RPv2: smallest id_int), the document kept. The four
-- stages of one SELECT run one after the other over the same rows, so the crawl is read and
-- annotated once.
CREATE VIEW clustered AS
  SELECT *,
         lsh_cluster(signature, record_id, bands := 1, rows := 128) OVER () AS cluster_1_0,
         lsh_cluster(signature, record_id, bands := 5, rows := 25) OVER () AS cluster_0_9,
         lsh_cluster(signature, record_id, bands := 9, rows := 13) OVER () AS cluster_0_8,
         lsh_cluster(signature, record_id, bands := 14, rows := 9) OVER () AS cluster_0_7
  FROM signed;

-- The signals table: every document, its rps_* signals, its MinHash signature (RPv2 publishes
-- both) and its cluster at each level.
CREATE OR REPLACE TABLE curated.rpv2_signals AS
  SELECT record_id, url, warc_date, language, language_score, rps, signature,
         cluster_1_0, cluster_0_9, cluster_0_8, cluster_0_7
  FROM clustered;

-- Duplicate ids, one row per (document, Jaccard level) where the document is not the one its
-- cluster keeps, as RPv2's duplicates/ lists: drop them with NOT IN for the level you want.
CREATE OR REPLACE TABLE curated.rpv2_duplicates AS
  SELECT record_id, 1.0 AS jaccard, cluster_1_0 AS cluster FROM clustered
  WHERE cluster_1_0 <> record_id
  UNION ALL
  SELECT record_id, 0.9 AS jaccard, cluster_0_9 AS cluster FROM clustered
  WHERE cluster_0_9 <> record_id
  UNION ALL
  SELECT record_id, 0.8 AS jaccard, cluster_0_8 AS cluster FROM clustered
  WHERE cluster_0_8 <> record_id
  UNION ALL
  SELECT record_id, 0.7 AS jaccard, cluster_0_7 AS cluster FROM clustered
  WHERE cluster_0_7 <> record_id;
