-- Imagen 3's data filtering (Imagen 3, arXiv:2408.07009, section 2 "Data") as an mdfql
-- pipeline. The paper specifies the steps, not their thresholds: "removing unsafe, violent, or
-- low-quality images", then eliminating AI-generated images, then deduplication (and
-- down-weighting similar images, not done here). Every threshold below is therefore mdfql's
-- choice, each borrowed from the reference named next to it.
--
--   mdfql sample && mdfql run pipelines/imagen3.sql
--   mdfql run pipelines/imagen3.sql --param input='images/*.parquet' \
--     --param clip_model=ViT-L-14 --param clip_weights=openai \
--     --param aesthetic_weights=sac+logos+ava1-l14-linearMSE.pth \
--     --param nsfw_weights=nsfw-l14.pt --param aigc_weights=aigc-l14.pt
--
-- The defaults are the demo weights `mdfql sample` writes (sample/models/): randomly
-- initialised, so the scores are noise (the heads are biased to keep rows, see its README).

SET $input = 'sample/image_text.parquet';
-- CLIP ViT-L/14 image embeddings: what LAION's aesthetic and NSFW heads take.
SET $clip_model = 'sample/models/mdfql-demo-clip.json';
SET $clip_weights = 'sample/models/mdfql-demo-clip.pt';
SET $aesthetic_weights = 'sample/models/aesthetic.pt';
SET $nsfw_weights = 'sample/models/nsfw.pt';
SET $aigc_weights = 'sample/models/aigc.pt';
SET $min_side = 128;                   -- Z-Image's min side (mega-data-factory z_image.yaml)
SET $max_compression_artifacts = 0.8;  -- Z-Image's (z_image.yaml max_compression_artifacts)
SET $min_sharpness = 10.0;             -- variance of the Laplacian; mdfql's: drops flat/blurred
SET $max_nsfw = 0.5;                   -- LAION's NSFW detector / NeMo Curator: drop >= 0.5
SET $min_aesthetic = 4.5;              -- LAION-Aesthetics V2's "4.5+" subset (1..10 scale)
SET $max_aigc = 0.5;                   -- a probability: drop what is more likely generated
SET $max_phash_distance = 10;          -- <= 10 of 64 bits (../shared/notes/specs.md)

CREATE VIEW images AS
  SELECT key, url, caption, image
  FROM read_parquet($input);

-- 1. Low-quality images (technical): readable, min side >= 128, compression artefacts <= 0.8,
-- not flat or blurred. Unreadable images are counted failures with their reason.
CREATE VIEW described AS
  SELECT *, image_info(image) AS info
  FROM images;

CREATE VIEW readable AS
  SELECT * EXCLUDE (info), info.width AS width, info.height AS height
  FROM described
  WHERE info IS NOT NULL;

CREATE VIEW profiled AS
  SELECT *, image_quality(image) AS quality
  FROM readable;

CREATE VIEW technical_quality AS
  SELECT * FROM profiled
  WHERE quality IS NOT NULL
    AND least(width, height) >= $min_side
    AND quality.compression_artifacts <= $max_compression_artifacts
    AND quality.sharpness >= $min_sharpness;

-- 2. Model scores over one CLIP ViT-L/14 image pass: NSFW (unsafe), aesthetic (low quality,
-- aesthetically), AI-generated.
CREATE VIEW scored AS
  SELECT *,
         nsfw_score(clip_embed(image, model := $clip_model, pretrained := $clip_weights),
                    weights := $nsfw_weights) AS nsfw_score,
         aesthetic_score(clip_embed(image, model := $clip_model, pretrained := $clip_weights),
                         weights := $aesthetic_weights) AS aesthetic_score,
         aigc_score(clip_embed(image, model := $clip_model, pretrained := $clip_weights),
                    weights := $aigc_weights) AS aigc_score
  FROM technical_quality;

-- Unsafe images first, then low aesthetic quality (the paper's first stage).
CREATE VIEW safe AS
  SELECT * FROM scored
  WHERE nsfw_score < $max_nsfw;

CREATE VIEW aesthetic AS
  SELECT * FROM safe
  WHERE aesthetic_score >= $min_aesthetic;

-- 3. AI-generated images removed (the paper's second stage).
CREATE VIEW not_generated AS
  SELECT * FROM aesthetic
  WHERE aigc_score < $max_aigc;

-- 4. Deduplication (the paper's third stage): pHash near duplicates, one per cluster, the
-- smallest key.
CREATE VIEW hashed AS
  SELECT *, phash(image) AS phash
  FROM not_generated;

CREATE VIEW clustered AS
  SELECT *, hamming_cluster(phash, max_distance := $max_phash_distance) OVER () AS cluster
  FROM hashed
  WHERE phash IS NOT NULL;

CREATE VIEW deduplicated AS
  SELECT DISTINCT ON (cluster) * EXCLUDE (cluster)
  FROM clustered
  ORDER BY key;

CREATE OR REPLACE TABLE curated.imagen3 AS
  SELECT key, url, caption, width, height, quality.compression_artifacts AS compression_artifacts,
         quality.sharpness AS sharpness, nsfw_score, aesthetic_score, aigc_score, phash, image
  FROM deduplicated;
