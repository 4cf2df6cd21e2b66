-- Dolma's Common Crawl recipe (Soldaini et al. 2024, arXiv:2402.00159, section 3.1 and appendix
-- "Web pipeline"; allenai/dolma 1.2.1: python/dolma/taggers, src/deduper.rs, src/shard.rs and
-- configs/dolma-v1_5/mixing/cc-head.yaml) as an mdfql pipeline, in Dolma's shape: taggers write
-- attributes keyed by document id (curated.dolma_attributes, one row per document), and a mixer
-- joins them back to the documents and keeps, cleans and masks by include/exclude conditions
-- (curated.dolma). Taggers are Dolma's own definitions (tests/test_dolma_taggers.py: every
-- attribute equal to the dolma package's on 600 real page texts).
--
--   mdfql sample && mdfql run pipelines/dolma.sql
--   mdfql run pipelines/dolma.sql --param input='crawl/*.warc.gz'
--
-- Not here: Dolma's hate-speech / NSFW fastText span taggers (jigsaw_*_sentence_v2, spans removed
-- at score >= 0.4): their models are not available offline; the perplexity-suite
-- decontamination spans; Bloom-filter false positives (dedup here is exact).

SET $input = 'sample/sample.warc.gz';
SET $min_english = 0.5;  -- ft_lang_id_en_doc_v2: fastText English score >= 0.5 (paper 3.1)
SET $max_pii = 5;        -- cc-head.yaml: exclude pii_..._doc_count > 5

-- Input: HTTP 200 HTML responses of the WARC. Dolma's CC documents came from CCNet over WET files.
CREATE VIEW responses AS
  SELECT record_id, url, warc_date, html
  FROM read_warc($input)
  WHERE status = 200 AND content_type IN ('text/html', 'application/xhtml+xml');

-- URL dedup (paper 3.1, "Deduplication", first stage): one document per exact URL, the
-- earliest capture kept.
CREATE VIEW url_deduplicated AS
  SELECT DISTINCT ON (url) * FROM responses
  ORDER BY url, warc_date, record_id;

-- Text: mdfql's main-content extraction with its blank lines removed, so that paragraphs are
-- lines as in CCNet's text: Dolma's taggers and its deduper split on single newlines and count
-- empty lines (gopher_v1 counts them as duplicate lines).
CREATE VIEW extracted AS
  SELECT record_id AS id, url, warc_date,
         regexp_replace(trim(extract_text(html, url)), '\n\s*\n', '\n') AS text
  FROM url_deduplicated;

-- Language (paper 3.1): fastText lid.176 on the text with newlines as spaces, English score
-- >= 0.5 (Dolma: the full lid.176.bin; here the compressed .ftz). English >= 0.5 is the top label.
CREATE VIEW identified AS
  SELECT *, lang_id(text) AS lid
  FROM extracted
  WHERE text IS NOT NULL AND text <> '';

CREATE VIEW english AS
  SELECT id, url, warc_date, text FROM identified
  WHERE lid.lang = 'en' AND lid.score >= $min_english;

-- Quality, C4 part (paper 3.1: "C4 NoPunc"; the v1-c4-cleaned documents): the c4_v1 tagger's
-- lines_with_no_ending_punctuation spans (lines not ending in . ? ! ") are removed. The other
-- taggers run on this cleaned text, as Dolma tagged the c4-cleaned documents.
CREATE VIEW c4_tagged AS
  SELECT *, dolma_c4(text) AS c4
  FROM english;

CREATE VIEW documents AS
  SELECT id, url, warc_date, c4, remove_spans(text, c4.lines_with_no_ending_punctuation) AS text
  FROM c4_tagged;

-- Taggers: gopher_v1 (gopher_rules), pii_regex_with_counts_fast_v2 (pii_detection) and the
-- paragraph deduper (dedupe_paragraphs: bff_duplicate_paragraph_spans; exact paragraphs seen
-- earlier by capture date, in an earlier document or earlier in the same one, the first kept).
CREATE VIEW attributes AS
  SELECT id, c4, dolma_gopher(text) AS gopher, dolma_pii(text) AS pii,
         paragraph_dedup(text, warc_date) OVER () AS bff_duplicate_paragraph_spans
  FROM documents;

CREATE OR REPLACE TABLE curated.dolma_attributes AS
  SELECT * FROM attributes;

-- The mixer (cc-head.yaml `filter.exclude`, every rule as Dolma configured it; a rule whose
-- attribute is absent does not fire, as the mixer's JSONPath filters). Gopher (Rae et al. 2021
-- App. A with Dolma's median word length): 50 <= words <= 100,000; median word length 3-10;
-- symbol words ('#', '…') <= 0.1; words with a letter >= 0.8; >= 2 required words; bullet
-- lines <= 0.9; '…' lines <= 0.3; duplicate lines <= 0.3 and their characters <= 0.3;
-- duplicated 5..10-gram characters <= 0.15, 0.14, 0.13, 0.12, 0.11, 0.10. The config's most
-- common 2/3/4-gram rules (> 0.2, 0.18, 0.16) name `..._most_common_2gram`, an attribute the
-- tagger never writes (it writes `..._2grams`), so they never fired in Dolma's mix and are left
-- out here too (the values are in curated.dolma_attributes). PII: more than 5 spans excluded.
-- The mixer reads the attributes table just written (the taggers do not run again).
CREATE VIEW mixed AS
  SELECT d.id, d.url, d.warc_date, d.text, a.bff_duplicate_paragraph_spans AS dup_spans
  FROM documents d JOIN curated.dolma_attributes a ON d.id = a.id
  WHERE a.gopher.word_count >= 50
    AND a.gopher.word_count <= 100000
    AND a.gopher.median_word_length >= 3
    AND a.gopher.median_word_length <= 10
    AND a.gopher.symbol_to_word_ratio <= 0.1
    AND a.gopher.fraction_of_words_with_alpha_character >= 0.8
    AND a.gopher.required_word_count >= 2
    AND a.gopher.fraction_of_lines_starting_with_bullet_point <= 0.9
    AND a.gopher.fraction_of_lines_ending_with_ellipsis <= 0.3
    AND a.gopher.fraction_of_duplicate_lines <= 0.3
    AND a.gopher.fraction_of_characters_in_duplicate_lines <= 0.3
    AND coalesce(a.gopher.fraction_of_characters_in_duplicate_5grams <= 0.15, true)
    AND coalesce(a.gopher.fraction_of_characters_in_duplicate_6grams <= 0.14, true)
    AND coalesce(a.gopher.fraction_of_characters_in_duplicate_7grams <= 0.13, true)
    AND coalesce(a.gopher.fraction_of_characters_in_duplicate_8grams <= 0.12, true)
    AND coalesce(a.gopher.fraction_of_characters_in_duplicate_9grams <= 0.11, true)
    AND coalesce(a.gopher.fraction_of_characters_in_duplicate_10grams <= 0.10, true)
    AND a.pii.doc_count <= $max_pii;

-- span_replacement (cc-head.yaml): duplicate paragraphs (min_score 0.5) removed, then PII
-- (min_score 0.5) masked as " |||EMAIL_ADDRESS||| ", " |||PHONE_NUMBER||| ", " |||IP_ADDRESS||| ".
-- The mixer does both in one pass over the tagged text; here the PII tagger runs again on the
-- deduplicated text, which finds the same spans in the kept lines (it matches within a line,
-- and removal takes whole lines), so the result is the same.
CREATE VIEW deduplicated AS
  SELECT id, url, warc_date, remove_spans(text, dup_spans, min_score := 0.5) AS text
  FROM mixed;

CREATE VIEW masked AS
  SELECT id, url, warc_date,
         remove_spans(text, dolma_pii(text), min_score := 0.5,
                      replacement := [['EMAIL_ADDRESS', ' |||EMAIL_ADDRESS||| '],
                                      ['PHONE_NUMBER', ' |||PHONE_NUMBER||| '],
                                      ['IP_ADDRESS', ' |||IP_ADDRESS||| ']]) AS text
  FROM deduplicated;

-- Documents left empty are not written (dolma-v1_6's mix: min_text_length 1 after trimming).
CREATE OR REPLACE TABLE curated.dolma AS
  SELECT id, url, warc_date, text FROM masked
  WHERE trim(text) <> '';
