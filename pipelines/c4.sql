-- C4, the Colossal Clean Crawled Corpus (Raffel et al. 2020, JMLR 21(140), section 2.2), as an
-- mdfql pipeline in the order of its reference code (TFDS `tensorflow_datasets/text/c4.py`
-- `_get_page_content` and `c4_utils.py`): length and URL dedup, the line-level cleaning, line
-- dedup, then language and bad words. Thresholds are the paper's (they are the TFDS constants).
--
--   mdfql sample && mdfql run pipelines/c4.sql
--   mdfql run pipelines/c4.sql --param input='crawl/*.warc.gz'

SET $input = 'sample/sample.warc.gz';
SET $language = 'en';
SET $min_language_score = 0.8;   -- lid.176's stand-in for C4's langdetect >= 0.99 (below)
SET $max_chars = 190000;         -- c4_utils.is_valid_length: drops pages over 1.9e5 chars

-- Input: C4 read Common Crawl's WET files (its own text extraction); here the WARC's HTTP 200
-- HTML responses are extracted with mdfql's extract_text, as fineweb.sql does.
CREATE VIEW responses AS
  SELECT record_id, url, warc_date, html
  FROM read_warc($input)
  WHERE status = 200 AND content_type IN ('text/html', 'application/xhtml+xml');

CREATE VIEW extracted AS
  SELECT record_id, url, warc_date, extract_text(html, url) AS text
  FROM responses;

-- is_valid_length, then normalize_url + dedupe_urls: one page per URL with the scheme,
-- "www.", a ?utm_/?ref/?feed query and trailing slashes taken off (c4_utils' regexes). TFDS
-- keeps whichever page its group yields last; here the earliest capture.
CREATE VIEW sized AS
  SELECT *,
         regexp_replace(regexp_replace(regexp_replace(url, 'https?://(www\.)?', ''),
                                       '\?(utm_|ref|feed).*', ''), '/+$', '') AS page_key
  FROM extracted
  WHERE text IS NOT NULL AND text <> '' AND length(text) <= $max_chars;

CREATE VIEW url_deduplicated AS
  SELECT DISTINCT ON (page_key) * EXCLUDE (page_key)
  FROM sized
  ORDER BY warc_date, url;

-- Section 2.2's heuristics (c4_utils.clean_page): keep lines ending in terminal punctuation
-- (not "...") with >= 5 words and no word over 1,000 chars, drop lines with "javascript" or
-- the cookie/terms-of-use phrases, strip [1]/[edit]/[citation needed]; drop pages with
-- "lorem ipsum", a "{", or < 3 sentences. c4_quality is datatrove's C4QualityFilter: its
-- terminal marks also accept "'" (TFDS: . ? ! " only) and it counts sentences with spaCy's
-- sentencizer where TFDS uses NLTK punkt.
CREATE VIEW cleaned AS
  SELECT record_id, url, warc_date,
         c4_quality(text, min_words_per_line := 5, min_num_sentences := 3) AS c4
  FROM url_deduplicated;

CREATE VIEW clean AS
  SELECT record_id, url, warc_date, c4.text AS text
  FROM cleaned
  WHERE c4.keep;

-- "We discarded all but one of any three-sentence span occurring more than once" (section
-- 2.2); the reference (c4_utils.remove_duplicate_text) does it by lines: each line of
-- text.split("\n"), stripped and lowercased, stays in one page only, the page whose URL has the
-- smallest md5 hex digest, and there only its first copy. line_dedup finds exactly the other
-- copies (with md5(url) as the order key); remove_spans removes them, leaving the kept lines
-- joined by "\n" as the reference rejoins them, plus a final "\n" when the last line went,
-- which rtrim drops (the cleaned lines are stripped, so it removes nothing else).
CREATE VIEW line_spans AS
  SELECT *, line_dedup(text, md5(url)) OVER () AS duplicate_lines
  FROM clean;

CREATE VIEW line_deduplicated AS
  SELECT record_id, url, warc_date, rtrim(remove_spans(text, duplicate_lines)) AS text
  FROM line_spans;

-- remove_duplicate_text then drops pages left empty or with < 3 sentences; c4_quality with the
-- same values re-counts them (the lines all pass its line rules already).
CREATE VIEW deduplicated AS
  SELECT record_id, url, warc_date, text
  FROM line_deduplicated
  WHERE text <> ''
    AND c4_quality(text, min_words_per_line := 5, min_num_sentences := 3,
                   remove_citations := false).keep;

-- Language, after cleaning "since it may change the predominant language" (c4.py): C4 used
-- langdetect (seed 0) and kept English at probability >= 0.99; mdfql uses fastText lid.176
-- (lang_id, the .ftz model; text with newlines as spaces), whose scores run lower for the same
-- pages: on the 283 real extraction-eval pages that pass the cleaning, langdetect >= 0.99 keeps
-- 44 as English, lid.176 >= 0.99 keeps 1 of them, and >= 0.8 keeps exactly those 44 (its
-- English scores there: 0.916 to 0.99); on the sample's 514 cleaned pages lid.176 >= 0.8 and
-- langdetect >= 0.99 agree on all 514 (at 0.99, on 33). 0.8 is the highest tenth agreeing on both.
CREATE VIEW identified AS
  SELECT *, lang_id(text) AS lid
  FROM deduplicated;

CREATE VIEW in_language AS
  SELECT record_id, url, warc_date, text, lid.lang AS language, lid.score AS language_score
  FROM identified
  WHERE lid.lang = $language AND lid.score >= $min_language_score;

-- Section 2.2: "We removed any page that contained any word on the List of Dirty, Naughty,
-- Obscene or Otherwise Bad Words" (LDNOOBW's en list at the commit datatrove pins), matched
-- as datatrove's C4BadWordsFilter: the word on its own in the lowercased page.
CREATE VIEW clean_words AS
  SELECT * FROM in_language
  WHERE c4_badwords_ok(text, language := $language);

CREATE OR REPLACE TABLE curated.c4 AS
  SELECT url, warc_date, record_id, language, language_score, text
  FROM clean_words;
