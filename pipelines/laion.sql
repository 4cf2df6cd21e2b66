-- LAION-5B (Schuhmann et al. 2022, arXiv:2210.08402, section 3.1 "Dataset assembly pipeline"
-- and 3.2 "Safety during collection") as an mdfql pipeline over image-text pairs (url,
-- caption, image bytes): one view per step, in LAION's order.
--
--   mdfql sample && mdfql run pipelines/laion.sql
--   mdfql run pipelines/laion.sql --param input='pairs/*.parquet' \
--     --param clip_model=ViT-B-32 --param clip_weights=openai \
--     --param tag_model=ViT-L-14 --param tag_weights=openai \
--     --param nsfw_weights=nsfw-l14.pt --param watermark_weights=watermark-l14.pt \
--     --param nudity_weights=320n.onnx
--
-- The defaults are the demo weights `mdfql sample` writes (sample/models/): randomly
-- initialised, so every score is noise and the CLIP filter keeps (almost) nothing; add
-- --param min_similarity_en=-1 --param min_similarity_other=-1 to see the later steps. The
-- nudity tag is a real model: NudeNet's detector from the nudenet package (the models extra).

SET $input = 'sample/image_text.parquet';
-- Image-text similarity: OpenAI CLIP ViT-B/32 (section 3.1; LAION's multilingual subset used
-- mCLIP, e.g. open_clip's xlm-roberta-base-ViT-B-32 / laion5b_s13b_b90k).
SET $clip_model = 'sample/models/mdfql-demo-clip.json';
SET $clip_weights = 'sample/models/mdfql-demo-clip.pt';
-- Tags (section 3.2): LAION's NSFW detector is an MLP over CLIP ViT-L/14 image embeddings;
-- the watermark head here runs over the same embeddings (mdfql's choice: LAION's watermark
-- detector is an image CNN).
SET $tag_model = 'sample/models/mdfql-demo-clip.json';
SET $tag_weights = 'sample/models/mdfql-demo-clip.pt';
SET $nsfw_weights = 'sample/models/nsfw.pt';
SET $watermark_weights = 'sample/models/watermark.pt';
-- A second, real safety tag (mdfql's addition): NudeNet's exposed-body-part detector; NULL: the
-- 320n.onnx inside the installed nudenet package.
SET $nudity_weights = NULL;
SET $min_caption_chars = 5;        -- section 3.1: alt texts under 5 characters are dropped
SET $min_image_bytes = 5120;       -- section 3.1: images under 5 KB are dropped
SET $min_similarity_en = 0.28;     -- section 3.1: English pairs, cosine >= 0.28 (ViT-B/32)
SET $min_similarity_other = 0.26;  -- section 3.1: other languages, >= 0.26 (mCLIP)
-- pHash near duplicates: <= 10 of 64 bits differ (the common imagehash default, see
-- ../shared/notes/specs.md); mdfql's choice: LAION-5B itself deduplicates by URL and alt text.
SET $max_phash_distance = 10;

-- 1. Pairs (section 3.1: image URL and alt text parsed from Common Crawl's WAT files); LAION's
-- bloom filter drops repeated (URL, alt text) pairs; one of each survives, the smallest key.
CREATE VIEW pairs AS
  SELECT DISTINCT ON (url, caption) key, url, caption, image
  FROM read_parquet($input)
  ORDER BY key;

-- 2. Alt text length (section 3.1): fewer than 5 characters are dropped.
CREATE VIEW captioned AS
  SELECT * FROM pairs
  WHERE caption IS NOT NULL AND length(caption) >= $min_caption_chars;

-- 3. Readable images (section 3.1: img2dataset decodes every download and drops what it
-- cannot read; resolution bombs are dropped before decoding): image_info reads the header,
-- refuses more than SET max_image_pixels pixels and counts each failure with its reason.
CREATE VIEW described AS
  SELECT *, image_info(image) AS info
  FROM captioned;

CREATE VIEW readable AS
  SELECT * EXCLUDE (info), info.width AS width, info.height AS height,
         info.size_bytes AS size_bytes
  FROM described
  WHERE info IS NOT NULL;

-- 4. Image size (section 3.1): downloads under 5 KB are dropped.
CREATE VIEW sized AS
  SELECT * FROM readable
  WHERE size_bytes >= $min_image_bytes;

-- 5. Caption language (section 3.1: LAION-2B-en / LAION-2B-multi / LAION-1B-nolang; LAION used
-- CLD3, mdfql uses fastText lid.176 through lang_id).
CREATE VIEW languages AS
  SELECT *, lang_id(caption).lang AS caption_language
  FROM sized;

-- 6. CLIP filtering (section 3.1): cosine of the image and text embeddings; undecodable
-- bodies (truncated files) are NULL here, counted failures of clip_score.
CREATE VIEW scored AS
  SELECT *, clip_score(image, caption, model := $clip_model, pretrained := $clip_weights)
              AS similarity
  FROM languages;

CREATE VIEW clip_filtered AS
  SELECT * FROM scored
  WHERE similarity >= CASE WHEN caption_language = 'en' THEN $min_similarity_en
                           ELSE $min_similarity_other END;

-- 7. Tags, not filters (section 3.2): punsafe from the CLIP-based NSFW detector, pwatermark
-- from the watermark head, both columns of the dataset (LAION-5B kept them for users to filter);
-- nudity: NudeNet's best exposed-nudity score (0 when it finds none above 0.25).
CREATE VIEW tagged AS
  SELECT *,
         nsfw_score(clip_embed(image, model := $tag_model, pretrained := $tag_weights),
                    weights := $nsfw_weights) AS punsafe,
         watermark_score(clip_embed(image, model := $tag_model, pretrained := $tag_weights),
                         weights := $watermark_weights) AS pwatermark,
         nudity_score(image, weights := $nudity_weights) AS nudity
  FROM clip_filtered;

-- 8. pHash near-duplicate removal: images within max_phash_distance bits form one cluster;
-- one image per cluster survives, the smallest key, so every runner keeps the same one.
CREATE VIEW hashed AS
  SELECT *, phash(image) AS phash
  FROM tagged;

CREATE VIEW clustered AS
  SELECT *, hamming_cluster(phash, max_distance := $max_phash_distance) OVER () AS cluster
  FROM hashed
  WHERE phash IS NOT NULL;

CREATE VIEW deduplicated AS
  SELECT DISTINCT ON (cluster) * EXCLUDE (cluster)
  FROM clustered
  ORDER BY key;

CREATE OR REPLACE TABLE curated.laion AS
  SELECT key, url, caption, caption_language, width, height, similarity, punsafe, pwatermark,
         nudity, phash, image
  FROM deduplicated;
