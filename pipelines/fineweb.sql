-- FineWeb (Penedo et al. 2024, arXiv:2406.17557, section 3; datatrove's examples/fineweb.py) as
-- an mdfql pipeline: one view per step, in FineWeb's order, with datatrove's defaults (what
-- FineWeb ran; collected in ../shared/notes/specs.md). Steps 1-8 are FineWeb's per-dump
-- filtering, step 9 its MinHash dedup, step 10 the PII formatting applied after dedup.
--
--   mdfql sample && mdfql run pipelines/fineweb.sql
--   mdfql run pipelines/fineweb.sql --param input='crawl/*.warc.gz'

SET $input = 'sample/sample.warc.gz';
SET $language = 'en';
SET $min_language_score = 0.65;  -- LanguageFilter: keep when the English score is > 0.65

-- 1. Input: raw WARC, not WET (section 3.1): HTML responses. Common Crawl's WARC files hold
-- only HTTP 200 captures (redirects and errors go to its crawldiagnostics files).
CREATE VIEW responses AS
  SELECT record_id, url, warc_date, html
  FROM read_warc($input)
  WHERE status = 200 AND content_type IN ('text/html', 'application/xhtml+xml');

-- 2. URL filtering (section 3.2, "base filtering"): datatrove's URLFilter, i.e. RefinedWeb's
-- domain blocklist (subdomains included), banned sub-words, hard words and >= 2 soft words.
-- Unlike RefinedWeb, FineWeb keeps the curated sources (Wikipedia, arXiv, ...).
CREATE VIEW url_filtered AS
  SELECT * FROM responses
  WHERE url_score(url, quality_sources := false) < 0.5;

-- 3. Text extraction (section 3.1): trafilatura's main content (favour precision, no comments,
-- deduplicated) in FineWeb; pages without any main content are dropped.
CREATE VIEW extracted AS
  SELECT record_id, url, warc_date, extract_text(html, url) AS text
  FROM url_filtered;

-- 4. Language (section 3.2): fastText lid.176 on the text with newlines as spaces; keep English
-- scoring strictly above 0.65, as datatrove's LanguageFilter compares (score > threshold).
CREATE VIEW identified AS
  SELECT *, lang_id(text) AS lid
  FROM extracted
  WHERE text IS NOT NULL AND text <> '';

CREATE VIEW in_language AS
  SELECT record_id, url, warc_date, text, lid.lang AS language, lid.score AS language_score
  FROM identified
  WHERE lid.lang = $language AND lid.score > $min_language_score;

-- 5. Gopher repetition (section 3.2; Rae et al. 2021, appendix A): duplicate lines/paragraphs
-- and their characters, top 2-4-gram and duplicated 5-10-gram character fractions.
CREATE VIEW repetition_filtered AS
  SELECT * FROM in_language
  WHERE gopher_repetition_ok(text);

-- 6. Gopher quality (section 3.2): 50-100,000 words, mean word length 3-10, symbol ratios,
-- bullet/ellipsis lines, alphabetic words, stop words.
CREATE VIEW gopher_filtered AS
  SELECT * FROM repetition_filtered
  WHERE gopher_quality_ok(text);

-- 7. C4 filters (section 3.3) with the terminal-punctuation line rule off, as FineWeb ran them:
-- lines with "javascript", policy boilerplate, too-long words or too few words are removed
-- (the corrected text replaces the original); pages with "lorem ipsum", "{", too few sentences
-- or no lines left are dropped.
CREATE VIEW c4_checked AS
  SELECT record_id, url, warc_date, language, language_score,
         c4_quality(text, filter_no_terminal_punct := false) AS c4
  FROM gopher_filtered;

CREATE VIEW c4_filtered AS
  SELECT record_id, url, warc_date, c4.text AS text, language, language_score
  FROM c4_checked
  WHERE c4.keep;

-- 8. FineWeb's own filters (section 3.4): lines ending in punctuation >= 0.12, short lines
-- <= 0.67, duplicated-line characters <= 0.01, newlines per word <= 0.3.
CREATE VIEW fineweb_filtered AS
  SELECT * FROM c4_filtered
  WHERE fineweb_quality_ok(text);

-- 9. MinHash dedup (section 3.2, per dump in FineWeb): word 5-gram shingles, 112 64-bit hashes
-- in 14 bands of 8 rows (seed 1); documents sharing a band bucket form one cluster, and one
-- document per cluster survives: the earliest capture, then the smallest URL, so every runner
-- and partitioning keeps the same one (datatrove keeps the first in its input order).
CREATE VIEW signed AS
  SELECT *, minhash(text, num_hashes := 112, ngram := 5, seed := 1) AS signature
  FROM fineweb_filtered;

CREATE VIEW clustered AS
  SELECT * EXCLUDE (signature), lsh_cluster(signature, bands := 14, rows := 8) OVER () AS cluster
  FROM signed;

CREATE VIEW deduplicated AS
  SELECT DISTINCT ON (cluster) * EXCLUDE (cluster)
  FROM clustered
  ORDER BY warc_date, url;

-- 10. PII (section 3.2, after dedup): public IP addresses and email addresses are replaced by
-- fixed placeholder addresses, as datatrove's PIIFormatter does.
CREATE OR REPLACE TABLE curated.fineweb AS
  SELECT url, warc_date, record_id, language, language_score, pii_mask(text) AS text
  FROM deduplicated;
