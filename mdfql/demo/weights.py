"""Demo weights: tiny, randomly initialised models of the architectures the image pipelines
and `edu_score` load, so `mdfql sample && mdfql run pipelines/laion.sql` runs offline. Their
scores mean nothing; they exist to exercise the code path real weights take (model config
JSON plus checkpoint for open_clip, `save_pretrained` folders for SigLIP and the FineWeb-Edu
classifier, state dicts for the heads).

Every builder is seeded (`torch.manual_seed`), so a given seed gives the same weights. The
tests build their reference models with the same functions (tests/test_models.py).
Needs the `models` extra (torch, open_clip_torch, transformers); `missing_models()` says
what is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdfql.demo.corpus import walk_strings
from mdfql.demo.fasttext_model import write_demo_classifier

# Width of a CLIP ViT-L/14 embedding: the heads (LAION aesthetic v2, NSFW) take 768 inputs.
DEMO_EMBED_DIM = 768
DEMO_CLIP_NAME = "mdfql-demo-clip"
HEAD_NAMES = ("aesthetic", "nsfw", "watermark", "aigc")
DEMO_CLASSIFIER = "dclm-demo.bin"  # pipelines/dclm.sql's default $classifier


def tiny_clip_config(embed_dim: int = DEMO_EMBED_DIM) -> dict[str, Any]:
    """An open_clip custom ViT config: 2 layers per tower, 64 px images, `embed_dim` wide.
    The text tower keeps open_clip's tokenizer vocabulary (49,408) and context (77)."""
    return {"embed_dim": embed_dim,
            "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16,
                           "head_width": 32},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                         "layers": 2}}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Library warnings off while a random model is built and saved, restored after."""
    from transformers.utils import logging as hf_logging

    root, hf_level = logging.getLogger(), hf_logging.get_verbosity()
    level = root.level
    root.setLevel(logging.ERROR)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        root.setLevel(level)
        hf_logging.set_verbosity(hf_level)
        hf_logging.enable_progress_bar()


@dataclass(frozen=True)
class ClipFiles:
    config: Path  # open_clip model config JSON; its file name (stem) is the model's name
    weights: Path  # the state dict checkpoint
    model: Any  # the model the checkpoint holds (eval mode)


def write_clip(folder: str | Path, name: str = DEMO_CLIP_NAME,
               embed_dim: int = DEMO_EMBED_DIM, seed: int = 0) -> ClipFiles:
    """`folder/name.json` and `folder/name.pt`: a tiny random open_clip ViT, loaded in SQL as
    `clip_embed(image, model := '.../name.json', pretrained := '.../name.pt')`."""
    import open_clip
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f"{name}.json"
    config.write_text(json.dumps(tiny_clip_config(embed_dim), indent=2) + "\n")
    open_clip.add_model_config(config)
    torch.manual_seed(seed)
    with _quiet():  # open_clip warns that no pretrained weights were loaded: none are meant
        model = open_clip.create_model(name).eval()
    weights = folder / f"{name}.pt"
    torch.save(model.state_dict(), weights)
    return ClipFiles(config, weights, model)


@dataclass(frozen=True)
class SiglipFiles:
    folder: Path  # a `save_pretrained` folder: the vision tower and preprocessor config
    model: Any  # the SiglipModel whose vision tower is saved there (eval mode)
    processor: Any  # its image processor


def write_siglip(folder: str | Path, image_size: int = 48, seed: int = 0) -> SiglipFiles:
    """A tiny random SigLIP (2 layers, 32 wide), its vision tower saved with its image
    processor, loaded in SQL as `siglip_embed(image, model := 'folder')`."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessorPil, SiglipModel, SiglipVisionModel

    config = SiglipConfig(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": image_size, "patch_size": 16},
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "vocab_size": 99, "bos_token_id": 1,
                     "eos_token_id": 2, "pad_token_id": 1})
    torch.manual_seed(seed)
    folder = Path(folder)
    with _quiet():  # transformers' token-id warnings and progress bar say nothing here
        model = SiglipModel(config).eval()
        # siglip_embed loads the vision tower alone: save just that, with the same weights
        tower = SiglipVisionModel(config.vision_config)
        tower.load_state_dict(model.vision_model.state_dict())
        tower.save_pretrained(folder)
    processor = SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
    processor.save_pretrained(folder)
    return SiglipFiles(folder, model, processor)


@dataclass(frozen=True)
class EduFiles:
    folder: Path  # a `save_pretrained` folder: the classifier and its tokenizer
    model: Any  # the BertForSequenceClassification saved there (eval mode)
    tokenizer: Any  # its BertTokenizerFast


# FineWeb-Edu's classifier is snowflake-arctic-embed-m (a BERT-base encoder with the
# bert-base-uncased WordPiece tokenizer, 512 tokens) plus a 1-output regression head.
EDU_MAX_LENGTH = 512
_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def wordpiece_tokenizer(folder: Path, corpus: list[str], vocab_size: int) -> Any:
    """A lowercasing BERT WordPiece tokenizer trained on `corpus` (offline), as a
    BertTokenizerFast of model_max_length 512 whose vocab.txt is in `folder`."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(corpus, vocab_size=vocab_size, min_frequency=1,
                                special_tokens=_SPECIAL_TOKENS, show_progress=False)
    vocab = trainer.get_vocab()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("".join(f"{token}\n" for token in sorted(vocab, key=vocab.get)))
    return BertTokenizerFast(vocab_file=str(path), do_lower_case=True,
                             model_max_length=EDU_MAX_LENGTH)


def write_edu(folder: str | Path, corpus: list[str], vocab_size: int = 2000, hidden: int = 32,
              layers: int = 2, heads: int = 2, seed: int = 0,
              spread: tuple[float, float] | None = (2.5, 1.5), init: float = 0.4) -> EduFiles:
    """A random BertForSequenceClassification of FineWeb-Edu's kind (1 regression output)
    with a WordPiece tokenizer trained on `corpus`, saved to `folder` and loaded in SQL as
    `edu_score(text, model := 'folder')`. `init`: the weights' standard deviation (BERT's
    0.02 gives every text nearly the same output: a random encoder that tells texts apart
    needs larger weights); `spread`: rescale the head so the scores of `corpus` have this
    mean and standard deviation."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder = Path(folder)
    tokenizer = wordpiece_tokenizer(folder, corpus, vocab_size)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden,
                        num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=4 * hidden, max_position_embeddings=EDU_MAX_LENGTH,
                        num_labels=1, problem_type="regression", initializer_range=init)
    torch.manual_seed(seed)
    with _quiet():
        model = BertForSequenceClassification(config).eval()
    if spread is not None:
        spread_head(model, tokenizer, corpus, *spread)
    with _quiet():
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return EduFiles(folder, model, tokenizer)


def spread_head(model: Any, tokenizer: Any, texts: list[str], mean: float, std: float
                ) -> None:
    """Rescale a sequence classifier's last linear layer (`model.classifier`) in place so each
    output over `texts` has this mean and standard deviation: a random encoder's outputs
    differ little between texts, so scores and top labels would hardly vary."""
    import torch

    with torch.inference_mode():
        inputs = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        logits = model(**inputs).logits
    scale = std / logits.std(0).clamp_min(1e-12)
    with torch.no_grad():
        head = model.classifier
        head.weight *= scale[:, None]
        head.bias.copy_((head.bias - logits.mean(0)) * scale + mean)


def demo_corpus() -> list[str]:
    """Every sentence and phrase the bundled sample's pages are made of (mdfql.demo.text)."""
    from mdfql.demo import text

    return walk_strings([getattr(text, name) for name in sorted(vars(text)) if name.isupper()])


# What the demo heads output for a zero embedding (scores of real embeddings stay within a few
# hundredths of it): mid-scale aesthetic (1..10), unlikely NSFW / watermark / AI-generated, so
# the pipelines' default thresholds keep rows and their later steps run on the sample.
DEMO_HEAD_OUTPUT = {"aesthetic": 5.5, "nsfw": 0.1, "watermark": 0.1, "aigc": 0.1}


def write_head(path: str | Path, name: str, width: int = DEMO_EMBED_DIM, seed: int = 0,
               output: float | None = None) -> tuple[Path, Any]:
    """A random head `name` (mdfql.models.heads.HEADS) over `width`-wide embeddings, its
    layers' state dict saved to `path`; returns the path and the module. `output`: shift the
    last layer's bias so a zero embedding scores `output` (a probability for sigmoid heads)."""
    import math

    import torch

    from mdfql.models.heads import HEADS, build

    torch.manual_seed(seed)
    arch = HEADS[name]
    module = build(arch, width).eval()
    if output is not None:
        target = math.log(output / (1 - output)) if arch.output == "sigmoid" else output
        with torch.no_grad():
            at_zero = module.layers(torch.zeros(1, width))[0, 0]
            module.layers[-1].bias += target - at_zero
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(module.layers.state_dict(), path)
    return path, module


README = """# Demo weights (randomly initialised: their scores mean nothing)

Written by `mdfql sample` (mdfql/demo/weights.py, seed {seed}) so the image pipelines
(pipelines/laion.sql, datacomp.sql, z_image.sql, imagen3.sql) run offline. These are NOT
trained models: every CLIP similarity, embedding, aesthetic, NSFW, watermark and AIGC score
computed with them is noise. They have the real architectures at toy sizes and load through
the same code path as real weights, which is all they are for.

- `{clip}.json`, `{clip}.pt`: an open_clip custom ViT (2 layers per tower, 64 px input,
  embedding width {width}, the width of CLIP ViT-L/14, so the heads fit). Real weights:
  `--param clip_model=ViT-L-14 --param clip_weights=openai` (or ViT-B-32 for LAION).
- `siglip/`: a tiny SiglipModel `save_pretrained` folder with its preprocessor config.
  Real: `--param siglip_model=google/siglip-so400m-patch14-384`.
- `fineweb-edu/`: a tiny BertForSequenceClassification (2 layers, 32 wide, 1 regression
  output: the FineWeb-Edu classifier's architecture) with a WordPiece tokenizer trained on
  the sample's sentences, its head rescaled so scores spread around 2.5 (some pages pass
  `int_score >= 3`). Real: `HuggingFaceFW/fineweb-edu-classifier` (edu_score's default).
- `aesthetic.pt`, `nsfw.pt`, `watermark.pt`, `aigc.pt`: head state dicts over {width}-wide
  embeddings (mdfql/models/heads.py documents each architecture), their last bias shifted
  so scores sit near aesthetic 5.5 and probability 0.1 (the pipelines' default thresholds
  keep rows; the CLIP similarity filter of laion.sql still keeps almost none). Real: LAION's
  `sac+logos+ava1-l14-linearMSE.pth` for aesthetic, the converted LAION NSFW detector, and
  watermark / AIGC heads trained on the same CLIP model's embeddings.
- `dclm-demo.bin`: a fastText supervised model of DCLM's kind (`__label__hq` /
  `__label__cc`, wordNgrams 2, softmax), NOT trained: naive-Bayes log-count ratios of the
  sample's article words (hq) against its navigation, comment, list and spam phrases (cc),
  written directly in fastText's .bin format (mdfql/demo/fasttext_model.py). It keeps most
  clean prose at DCLM's threshold (P(hq) >= 0.018112) and scores page chrome below it. Real:
  `--param classifier=openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin` (DCLM's, 2.4 GB).
"""


@dataclass(frozen=True)
class DemoWeights:
    folder: Path
    clip: ClipFiles
    siglip: Path
    edu: Path
    heads: dict[str, Path]

    def params(self) -> dict[str, str]:
        """The pipelines' `--param` values pointing at these weights."""
        out = {"clip_model": str(self.clip.config), "clip_weights": str(self.clip.weights),
               "siglip_model": str(self.siglip), "edu_model": str(self.edu)}
        out.update({f"{name}_weights": str(path) for name, path in self.heads.items()})
        out["classifier"] = str(self.folder / DEMO_CLASSIFIER)
        return out


def write_demo_weights(folder: str | Path, seed: int = 0) -> DemoWeights:
    """Every demo model under `folder` (about 8 MB), plus a README saying what they are."""
    folder = Path(folder)
    clip = write_clip(folder, seed=seed)
    siglip = write_siglip(folder / "siglip", seed=seed).folder
    edu = write_edu(folder / "fineweb-edu", demo_corpus(), seed=seed).folder
    heads = {name: write_head(folder / f"{name}.pt", name, seed=seed + i,
                              output=DEMO_HEAD_OUTPUT[name])[0]
             for i, name in enumerate(HEAD_NAMES)}
    write_demo_classifier(folder / DEMO_CLASSIFIER)
    (folder / "README.md").write_text(README.format(seed=seed, clip=DEMO_CLIP_NAME,
                                                    width=DEMO_EMBED_DIM))
    return DemoWeights(folder, clip, siglip, edu, heads)


def missing_models() -> str | None:
    """Why the demo weights cannot be built here (a missing `models` extra), else None."""
    missing = [m for m in ("torch", "open_clip", "transformers")
               if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed (pip install 'mdfql[models]')"
    return None
