-- DCLM-Baseline (Li et al. 2024, arXiv:2406.11794, section 3.1 and appendix G) as an mdfql
-- pipeline: one view per step, in the paper's order, thresholds from DCLM's released config
-- (collected in ../shared/notes/specs.md). Extraction by resiliparse, RefinedWeb's heuristics
-- without its quality-source exclusion, BFF-style n-gram dedup, then the fastText quality
-- classifier. The default classifier is a demo model written by `mdfql sample` (naive-Bayes
-- weights over the sample's phrases, not trained: sample/models/README.md); pass DCLM's own.
--
--   mdfql sample && mdfql run pipelines/dclm.sql
--   mdfql run pipelines/dclm.sql --param input='crawl/*.warc.gz' \
--     --param classifier=openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin

SET $input = 'sample/sample.warc.gz';
SET $classifier = 'sample/models/dclm-demo.bin';
SET $language = 'en';
SET $min_language_score = 0.65;  -- RefinedWeb G.3 as DCLM runs it: lid.176 English >= 0.65
SET $max_removed_words = 0.05;   -- line modifiers: drop a document when > 5% of words removed
SET $min_hq_score = 0.018112;    -- DCLM's released threshold on P(__label__hq): its top 10%

-- Input: raw WARC (DCLM-Pool is Common Crawl WARC, re-extracted): HTTP 200 HTML responses.
CREATE VIEW responses AS
  SELECT record_id, url, warc_date, html
  FROM read_warc($input)
  WHERE status = 200 AND content_type IN ('text/html', 'application/xhtml+xml');

-- RefinedWeb's URL filter as DCLM runs it: UT1 blocklist domains and the banned URL words
-- (strict, hard, soft), without the curated quality-source exclusion (DCLM keeps Wikipedia,
-- arXiv, ... in the pool).
CREATE VIEW url_filtered AS
  SELECT * FROM responses
  WHERE url_score(url, quality_sources := false) < 0.5;

-- Section 3.1: resiliparse extraction (extract_plain_text, main content), which DCLM found
-- better than WET files and as good as trafilatura at a fraction of its cost.
CREATE VIEW extracted AS
  SELECT record_id, url, warc_date,
         trim(extract_text(html, url, engine := 'resiliparse')) AS text
  FROM url_filtered;

-- English: fastText lid.176 at document level, top score >= 0.65.
CREATE VIEW identified AS
  SELECT *, lang_id(text) AS lid
  FROM extracted
  WHERE text IS NOT NULL AND text <> '';

CREATE VIEW in_language AS
  SELECT * EXCLUDE (lid) FROM identified
  WHERE lid.lang = $language AND lid.score >= $min_language_score;

-- RefinedWeb heuristics, as DCLM configures them: Gopher repetition (duplicate lines and
-- paragraphs, top 2-4-grams, duplicated 5-10-grams) and quality (50-100,000 words, mean word
-- length 3-10, symbol/word <= 0.1, bullet lines <= 0.9, ellipsis lines <= 0.3, >= 2 stop words).
CREATE VIEW quality_filtered AS
  SELECT * FROM in_language
  WHERE gopher_repetition_ok(text) AND gopher_quality_ok(text);

-- RefinedWeb line modifiers: drop uppercase, numeric, counter and one-word lines, strip
-- sign-in / read-more / cart boilerplate; drop the document when > 5% of its words went.
CREATE VIEW corrected AS
  SELECT record_id, url, warc_date, refinedweb_line_corrections(text) AS fix
  FROM quality_filtered;

CREATE VIEW refined AS
  SELECT record_id, url, warc_date, fix.text AS text
  FROM corrected
  WHERE fix.removed_word_fraction <= $max_removed_words AND fix.text <> '';

-- Section 3.1 / appendix G: BFF deduplication over word 13-grams: a document with >= 80% of
-- its 13-grams seen earlier is dropped, otherwise paragraphs >= 80% seen are removed. Exact
-- (a join, not a Bloom filter with DCLM's 0.01 false-positive rate) and, ordered by capture
-- date, the same for every runner and partitioning.
CREATE VIEW bff AS
  SELECT *, ngram_dedup(text, warc_date, ngram := 13, threshold := 0.8) OVER () AS r
  FROM refined;

CREATE VIEW deduplicated AS
  SELECT record_id, url, warc_date, r.text AS text
  FROM bff
  WHERE r.keep AND r.text <> '';

-- Section 3.1: the fastText classifier (unigrams + bigrams; OpenHermes-2.5 and ELI5 positives
-- against RefinedWeb negatives), keeping P(__label__hq) >= 0.018112 (the top 10% of the pool).
-- The text goes in as one line, newlines as spaces, as DCLM feeds it.
CREATE VIEW scored AS
  SELECT *, fasttext_score(text, model := $classifier, label := '__label__hq') AS hq_score
  FROM deduplicated;

CREATE VIEW classified AS
  SELECT * FROM scored
  WHERE hq_score >= $min_hq_score;

CREATE OR REPLACE TABLE curated.dclm AS
  SELECT url, warc_date, record_id, text, hq_score FROM classified;
