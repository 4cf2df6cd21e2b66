-- RefinedWeb's Macrodata Refinement (Penedo et al. 2023, arXiv:2306.01116, section 3 and
-- appendix G) as an mdfql pipeline: one view per step, in the paper's order, thresholds from the
-- paper (collected in ../shared/notes/specs.md). Deduplication follows G.7's order: fuzzy
-- (MinHash), exact, then URL. The paper's exact step removes repeated substrings of >= 50 tokens
-- (suffix arrays); this pipeline removes exact duplicate documents instead.
--
--   mdfql sample && mdfql run pipelines/refinedweb.sql
--   mdfql run pipelines/refinedweb.sql --param input='crawl/*.warc.gz'

SET $input = 'sample/sample.warc.gz';
SET $language = 'en';
SET $min_language_score = 0.65;  -- G.3: fastText lid.176 top-label score >= 0.65
SET $max_removed_words = 0.05;   -- G.6: drop a document when corrections removed > 5% of words

-- Input: raw WARC, not WET (section 3.1): HTTP 200 HTML responses.
CREATE VIEW responses AS
  SELECT record_id, url, warc_date, html
  FROM read_warc($input)
  WHERE status = 200 AND content_type IN ('text/html', 'application/xhtml+xml');

-- G.1 URL filtering: UT1 blocklist domains (a domain blocks its subdomains), strict sub-words
-- (one hit), hard words (one hit), soft words (two or more hits), and the curated quality
-- sources (Wikipedia, arXiv, ...) excluded to avoid overlap with curated corpora. The lists are
-- the real ones (UT1 by Université Toulouse 1 Capitole, CC BY-SA 4.0, and the banned URL words,
-- both as the datatrove package ships them); url_score's blocklist/words options take others.
CREATE VIEW url_filtered AS
  SELECT * FROM responses
  WHERE url_score(url) < 0.5;

-- G.2 text extraction: main content only, boilerplate removed; URLs removed and at most two
-- consecutive newlines.
CREATE VIEW extracted AS
  SELECT record_id, url, warc_date,
         trim(regexp_replace(regexp_replace(extract_text(html, url), 'https?://\S+', ''),
                             '\n{3,}', '\n\n')) AS text
  FROM url_filtered;

-- G.3 language identification: fastText lid.176 at document level.
CREATE VIEW identified AS
  SELECT *, lang_id(text) AS lid
  FROM extracted
  WHERE text IS NOT NULL AND text <> '';

CREATE VIEW in_language AS
  SELECT * EXCLUDE (lid) FROM identified
  WHERE lid.lang = $language AND lid.score >= $min_language_score;

-- G.4 repetition removal: Gopher's repetition rules (Rae et al. 2021, appendix A), unchanged:
-- duplicate lines/paragraphs and their characters, top 2-4-grams, duplicated 5-10-grams.
-- G.5 document-wise filtering: Gopher's quality rules, unchanged: 50-100,000 words, mean word
-- length 3-10, symbol ratios, bullet/ellipsis lines, alphabetic words, stop words.
CREATE VIEW quality_filtered AS
  SELECT * FROM in_language
  WHERE gopher_repetition_ok(text) AND gopher_quality_ok(text);

-- G.6 line-wise corrections: drop lines that are mostly uppercase, numeric, counters
-- ("3 likes") or shorter than two words; strip sign-in / read-more / cart boilerplate in short
-- lines; drop the document when more than 5% of its words were removed.
CREATE VIEW corrected AS
  SELECT record_id, url, warc_date, refinedweb_line_corrections(text) AS fix
  FROM quality_filtered;

CREATE VIEW refined AS
  SELECT record_id, url, warc_date, fix.text AS text
  FROM corrected
  WHERE fix.removed_word_fraction <= $max_removed_words AND fix.text <> '';

-- G.7 fuzzy deduplication: MinHash over normalised word 5-grams, 9,000 hashes in 450 bands of
-- 20 rows (pairs above ~0.74 Jaccard become candidates); documents sharing a bucket form one
-- cluster, and the earliest capture, then the smallest URL, survives, so every runner and
-- partitioning keeps the same document.
CREATE VIEW signed AS
  SELECT *, minhash(text, num_hashes := 9000, ngram := 5, seed := 1) AS signature
  FROM refined;

CREATE VIEW clustered AS
  SELECT * EXCLUDE (signature), lsh_cluster(signature, bands := 450, rows := 20) OVER () AS cluster
  FROM signed;

CREATE VIEW fuzzy_deduplicated AS
  SELECT DISTINCT ON (cluster) * EXCLUDE (cluster)
  FROM clustered
  ORDER BY warc_date, url;

-- G.7 exact deduplication, at document level: one document per fingerprint of its normalised
-- text (case, whitespace, punctuation, unicode), same winner rule.
CREATE VIEW exact_deduplicated AS
  SELECT DISTINCT ON (fingerprint(text)) *
  FROM fuzzy_deduplicated
  ORDER BY warc_date, url;

-- G.7 URL deduplication: one document per normalised URL (case of scheme and host, default
-- port, user info, trailing slash, parameter order and fragment ignored). Across crawl parts,
-- "earlier parts win" is an anti join against the table kept so far:
--   ... FROM exact_deduplicated d ANTI JOIN read_iceberg('curated.refinedweb') k
--       ON normalize_url(d.url) = normalize_url(k.url)
CREATE VIEW url_deduplicated AS
  SELECT DISTINCT ON (normalize_url(url)) url, warc_date, record_id, text
  FROM exact_deduplicated
  ORDER BY warc_date, url;

-- The table is written from the view: its ORDER BY only picks each URL's document. On the
-- statement itself it would also sort the rows written, and a sort holds all of them in
-- memory (on a 1 GB crawl, 1.7 GB at the write instead of 1 GB).
CREATE OR REPLACE TABLE curated.refinedweb AS
  SELECT * FROM url_deduplicated;
