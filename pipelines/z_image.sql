-- Z-Image's data profiling (Z-Image, arXiv:2511.22699, section 2 "Data"; the reference
-- pipeline is mega-data-factory's configs/z_image.yaml, the project mdfql reimplements) as an
-- mdfql pipeline: metadata, technical quality, the quality filter, pHash dedup, then CLIP and
-- SigLIP embeddings, aesthetic and AI-generated scores as columns.
--
--   mdfql sample && mdfql run pipelines/z_image.sql
--   mdfql run pipelines/z_image.sql --param input='images/*.parquet' \
--     --param clip_model=ViT-L-14 --param clip_weights=openai \
--     --param siglip_model=google/siglip-so400m-patch14-384 \
--     --param aesthetic_weights=sac+logos+ava1-l14-linearMSE.pth --param aigc_weights=aigc.pt
--
-- The defaults are the demo weights `mdfql sample` writes (sample/models/): randomly
-- initialised, so the embeddings and scores are noise.

SET $input = 'sample/image_text.parquet';
-- z_image.yaml clip_embedding_stage: ViT-L-14 / openai (768 wide, what the aesthetic
-- predictor takes).
SET $clip_model = 'sample/models/mdfql-demo-clip.json';
SET $clip_weights = 'sample/models/mdfql-demo-clip.pt';
-- SigLIP image embeddings (Z-Image section 2 profiles with SigLIP features; mdfql's default
-- model choice: google/siglip-so400m-patch14-384).
SET $siglip_model = 'sample/models/siglip';
-- improved-aesthetic-predictor (z_image.yaml aesthetic_quality_stage): LAION aesthetic v2.
SET $aesthetic_weights = 'sample/models/aesthetic.pt';
-- Z-Image's AI-generated-image detector (section 2); mdfql's head over CLIP embeddings.
SET $aigc_weights = 'sample/models/aigc.pt';
SET $min_width = 128;                    -- z_image.yaml image_quality_filter: min_width 128
SET $min_height = 128;                   -- z_image.yaml image_quality_filter: min_height 128
SET $max_compression_artifacts = 0.8;    -- z_image.yaml: max_compression_artifacts 0.8
SET $min_entropy = 0.0;                  -- z_image.yaml: min_information_entropy 0.0

-- 1. Images (the reference reads LAION-400M rows from the Hugging Face hub).
CREATE VIEW images AS
  SELECT key, url, caption, image
  FROM read_parquet($input);

-- 2. Metadata (mega-data-factory's image_metadata_refiner): width, height, format, mode and
-- file size from the header; unreadable images are counted failures with their reason.
CREATE VIEW described AS
  SELECT *, image_info(image) AS info
  FROM images;

CREATE VIEW with_metadata AS
  SELECT * EXCLUDE (info), info.width AS width, info.height AS height,
         info.format AS format, info.mode AS mode, info.size_bytes AS size_bytes
  FROM described
  WHERE info IS NOT NULL;

-- 3. Technical quality (image_technical_quality_refiner): one decode a row gives the
-- compression artefact score, entropy, sharpness and the rest; truncated bodies fail here.
CREATE VIEW profiled AS
  SELECT *, image_quality(image) AS quality
  FROM with_metadata;

-- 4. Quality filter (image_quality_filter: width >= 128, height >= 128, compression
-- artefacts <= 0.8, entropy >= 0.0, as z_image.yaml sets them).
CREATE VIEW quality_filtered AS
  SELECT * FROM profiled
  WHERE quality IS NOT NULL
    AND width >= $min_width AND height >= $min_height
    AND quality.compression_artifacts <= $max_compression_artifacts
    AND quality.entropy >= $min_entropy;

-- 5. pHash dedup (image_phash_deduplicator): images with the same perceptual hash are one,
-- the smallest key survives. mega-data-factory keys on a 16x16 (256-bit) pHash; mdfql's phash
-- is imagehash's default 8x8 (64 bits), so it also merges slightly less similar images.
CREATE VIEW hashed AS
  SELECT *, phash(image) AS phash
  FROM quality_filtered;

CREATE VIEW deduplicated AS
  SELECT DISTINCT ON (phash) *
  FROM hashed
  WHERE phash IS NOT NULL
  ORDER BY key;

-- 6. Embeddings and model scores, as columns (clip_embedding_stage, aesthetic_quality_stage
-- reusing the CLIP embedding, Z-Image's AIGC detector and SigLIP features): the CLIP image
-- pass runs once for the embedding and both heads.
CREATE VIEW scored AS
  SELECT *,
         clip_embed(image, model := $clip_model, pretrained := $clip_weights) AS clip_embedding,
         siglip_embed(image, model := $siglip_model) AS siglip_embedding,
         aesthetic_score(clip_embed(image, model := $clip_model, pretrained := $clip_weights),
                         weights := $aesthetic_weights) AS aesthetic_score,
         aigc_score(clip_embed(image, model := $clip_model, pretrained := $clip_weights),
                    weights := $aigc_weights) AS aigc_score
  FROM deduplicated;

CREATE OR REPLACE TABLE curated.z_image AS
  SELECT key, url, caption, width, height, format, mode, size_bytes,
         quality.compression_artifacts AS compression_artifacts,
         quality.compression_ratio AS compression_ratio, quality.entropy AS entropy,
         quality.sharpness AS sharpness, quality.brightness AS brightness,
         quality.contrast AS contrast, quality.colorfulness AS colorfulness,
         phash, clip_embedding, siglip_embedding, aesthetic_score, aigc_score, image
  FROM scored;
