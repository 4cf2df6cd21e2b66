"""Model loaders behind mdfql's model functions (`clip_embed`, `siglip_embed`, the heads,
`nsfw_detect`, `edu_score`, `hf_classify`).

Nothing here imports torch, open_clip, transformers or onnxruntime at import time: they come
with the `models` extra (`pip install 'mdfql[models]'`) and are imported when a worker loads a
model.
`weights` resolves where weights come from (a local file or folder, a Hugging Face hub id,
an open_clip tag) with a clear error when they are missing; `device` picks the device and
precision at load; `images` decodes and preprocesses a batch; `clip`, `siglip`, `heads` and
`text` (the transformers text classifiers) hold the loaded models, one per process and
configuration; `nudenet` runs NudeNet's ONNX detector with its own pre- and postprocessing.
"""
