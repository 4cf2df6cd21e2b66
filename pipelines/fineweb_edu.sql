-- FineWeb-Edu (Penedo et al. 2024, arXiv:2406.17557, section 5 "FineWeb-Edu") as an mdfql
-- pipeline: FineWeb-Edu is FineWeb filtered by an educational-value classifier, so it reads the
-- table pipelines/fineweb.sql writes (annotate once, filter as often as needed) instead of
-- repeating FineWeb's steps.
--
--   mdfql sample && mdfql run pipelines/fineweb.sql && mdfql run pipelines/fineweb_edu.sql
--   mdfql run pipelines/fineweb_edu.sql --param edu_model=HuggingFaceFW/fineweb-edu-classifier
--
-- The default model is the demo classifier `mdfql sample` writes (sample/models/fineweb-edu/):
-- randomly initialised, its scores are noise (see its README.md). The real one is the hub id
-- above (from the Hugging Face cache, or a local save_pretrained folder).

SET $source = 'curated.fineweb';
SET $edu_model = 'sample/models/fineweb-edu';
-- Section 5: the classifier (snowflake-arctic-embed-m with a 1-output regression head trained on
-- Llama-3-70B's 0-5 annotations) scores each page; int_score = round(clamp(score, 0, 5)) and
-- FineWeb-Edu keeps int_score >= 3 (FineWeb-Edu-score-2 keeps >= 2).
SET $min_int_score = 3;

CREATE VIEW scored AS
  SELECT *, edu_score(text, model := $edu_model) AS edu
  FROM read_iceberg($source);

CREATE OR REPLACE TABLE curated.fineweb_edu AS
  SELECT * EXCLUDE (edu), edu.score AS score, edu.int_score AS int_score
  FROM scored
  WHERE edu.int_score >= $min_int_score;
