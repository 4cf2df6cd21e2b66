-- DataComp (Gadre et al. 2023, arXiv:2304.14108, section 3.4 "Baselines" and appendix; the
-- reference code mlfoundations/datacomp baselines/) as an mdfql pipeline over image-text
-- pairs: basic filtering, then the CLIP ViT-L/14 score top 30%, then image-based filtering.
--
--   mdfql sample && mdfql run pipelines/datacomp.sql
--   mdfql run pipelines/datacomp.sql --param input='pool/*.parquet' \
--     --param clip_model=ViT-L-14 --param clip_weights=openai --param clusters=100000
--
-- The defaults are the demo weights `mdfql sample` writes (sample/models/): randomly
-- initialised, so the scores and embeddings are noise (the top 30% is still 30% of the rows).

SET $input = 'sample/image_text.parquet';
-- CLIP score: OpenAI CLIP ViT-L/14 (baselines/functions.py, clip_l14_similarity_score).
SET $clip_model = 'sample/models/mdfql-demo-clip.json';
SET $clip_weights = 'sample/models/mdfql-demo-clip.pt';
SET $language = 'en';          -- baselines/utils.py: fastText lid.176 says 'en'
SET $min_caption_words = 2;    -- baselines/utils.py: more than 2 words (str.split)
SET $min_caption_chars = 5;    -- baselines/utils.py: more than 5 characters
SET $min_side = 200;           -- baselines/utils.py: min(width, height) >= 200
SET $max_aspect = 3.0;         -- baselines/utils.py: max side / min side <= 3.0
SET $top_fraction = 0.3;       -- baselines/functions.py clip_score_l14_30_percent: p = 0.3
-- Image-based filtering: DataComp clusters ViT-L/14 image embeddings with k-means (100,000
-- centroids) and keeps the clusters nearest to ImageNet-1k training images (section 3.4,
-- baselines/image_based_clustering.py). Without ImageNet's embeddings at hand, mdfql runs the
-- embedding-cluster step as SemDeDup (k-means, then pairs with cosine >= 1 - eps are
-- duplicates; Abbas et al. 2023, arXiv:2303.09540); clusters and eps are mdfql's choice for
-- the ~70-row sample (DataComp: 100,000 centroids; NeMo Curator's SemDeDup eps 0.01).
SET $clusters = 4;
SET $eps = 0.01;

-- 1. The pool's pairs.
CREATE VIEW pool AS
  SELECT key, url, caption, image
  FROM read_parquet($input);

-- 2. Basic filtering, caption (baselines/utils.py load_uids_with_basic_filter_helper): English
-- by fastText, more than 2 words and more than 5 characters.
CREATE VIEW caption_checked AS
  SELECT *, lang_id(caption).lang AS caption_language,
         list_length(regexp_extract_all(caption, '\S+')) AS caption_words
  FROM pool
  WHERE caption IS NOT NULL;

CREATE VIEW english AS
  SELECT * FROM caption_checked
  WHERE caption_language = $language
    AND caption_words > $min_caption_words
    AND length(caption) > $min_caption_chars;

-- 3. Basic filtering, image size (same function): the smaller side >= 200 pixels and aspect
-- ratio <= 3. DataComp reads the original width and height from its metadata; image_info
-- reads them from the header (unreadable images are counted failures with their reason).
CREATE VIEW described AS
  SELECT *, image_info(image) AS info
  FROM english;

CREATE VIEW sized AS
  SELECT * EXCLUDE (info), info.width AS width, info.height AS height
  FROM described
  WHERE info IS NOT NULL
    AND least(info.width, info.height) >= $min_side
    AND greatest(info.width, info.height) <= $max_aspect * least(info.width, info.height);

-- 4. CLIP ViT-L/14 score (baselines/functions.py): image-text cosine, and the image embedding
-- step 5 clusters (one image-tower pass feeds both). Undecodable bodies are NULL and counted.
CREATE VIEW scored AS
  SELECT *,
         clip_score(image, caption, model := $clip_model, pretrained := $clip_weights)
           AS clip_score,
         clip_embed(image, model := $clip_model, pretrained := $clip_weights) AS embedding
  FROM sized;

-- Top 30% by score over the pool (clip_score_l14_30_percent keeps scores >= the score at
-- rank floor(0.3 n), descending); percent_rank is (rank - 1) / (n - 1), ties share a rank.
CREATE VIEW top_scored AS
  SELECT * FROM scored
  WHERE clip_score IS NOT NULL
  QUALIFY percent_rank() OVER (ORDER BY clip_score DESC) < $top_fraction;

-- 5. Image-based filtering by embedding clusters (SemDeDup, see above): one image per group
-- of near-identical embeddings survives, the one farthest from its centroid.
CREATE VIEW image_filtered AS
  SELECT * FROM top_scored
  QUALIFY semantic_cluster(embedding, id := key, clusters := $clusters, eps := $eps) OVER ()
          = key;

CREATE OR REPLACE TABLE curated.datacomp AS
  SELECT key, url, caption, width, height, clip_score, embedding, image
  FROM image_filtered;
