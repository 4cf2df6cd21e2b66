"""Transformers sequence classifiers over text (`edu_score`, `hf_classify`), loaded once per
process and configuration, with the counters tests read (loads, forward batches, rows).

Tokenization follows the FineWeb-Edu classifier's model card: `tokenizer(texts,
padding="longest", truncation=True)`, i.e. each text cut to the tokenizer's
`model_max_length` (512 for the classifier's snowflake-arctic-embed-m tokenizer) and padded
to the longest text of its forward batch, then `model(**inputs).logits`. A batch is tokenized
once, its texts sorted by token count and cut into forward batches of similar lengths, so
short texts are not padded to a long neighbour's length; a text's tokens and attention mask
are the card's whatever batch it falls in, so its logits equal the card's up to float
rounding (padding is masked out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mdfql.models import device as devices
from mdfql.models.cache import ModelCache
from mdfql.models.weights import (
    MODEL_HINT,
    MissingWeights,
    hub_failure,
    local_path,
    looks_local,
)

# tokenizers without a model_max_length report this sentinel (transformers' VERY_LARGE_INTEGER)
_UNSET_MAX_LENGTH = 10**20


@dataclass
class TextClassifier:
    """A loaded `AutoModelForSequenceClassification` and its tokenizer."""

    model: Any
    tokenizer: Any
    device: str
    max_length: int  # tokens per text after truncation, special tokens included
    labels: tuple[str, ...]  # config.id2label in logit order
    problem_type: str  # 'regression', 'single_label_classification' or 'multi_label_...'
    batches: int = 0  # forward passes run
    rows: int = 0  # texts scored

    def logits(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """The float32 logits (len(texts), len(labels)) of `texts`, `batch_size` texts of
        similar token counts per forward pass."""
        import torch

        out = np.empty((len(texts), len(self.labels)), np.float32)
        if not texts:
            return out
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                                 padding=False)
        ids = encoded["input_ids"]
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        order = np.argsort(lengths, kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                inputs = self._padded(encoded, rows, int(lengths[rows].max()))
                logits = self.model(**inputs).logits
                out[rows] = logits.float().cpu().numpy()
                self.batches += 1
        self.rows += len(texts)
        return out

    def _padded(self, encoded: Any, rows: np.ndarray, width: int) -> dict[str, Any]:
        """The tokenizer's outputs for `rows` padded to `width` on the tokenizer's side, as
        `padding="longest"` pads them, as tensors on the model's device."""
        import torch

        tok = self.tokenizer
        fill = {"input_ids": tok.pad_token_id, "token_type_ids": tok.pad_token_type_id,
                "attention_mask": 0, "special_tokens_mask": 1}
        left = tok.padding_side == "left"
        inputs = {}
        for name in tok.model_input_names:
            if name not in encoded:
                continue
            values = encoded[name]
            arr = np.full((len(rows), width), fill.get(name, 0), np.int64)
            for r, i in enumerate(rows):
                seq = values[i]
                if left:
                    arr[r, width - len(seq):] = seq
                else:
                    arr[r, :len(seq)] = seq
            inputs[name] = torch.from_numpy(arr).to(self.device)
        return inputs


def load_classifier(model: str, cache_dir: str | None, device: str, precision: str
                    ) -> TextClassifier:
    """The classifier `model` (a hub id or a `save_pretrained` folder), once per process."""
    return CACHE.get((model, cache_dir, device, precision))


def loaded() -> dict[tuple[str, str | None, str, str], TextClassifier]:
    """The classifiers this process has loaded (tests read their counters)."""
    return CACHE.loaded()


def config_labels(config: dict[str, Any]) -> tuple[str, ...]:
    """The labels of a model's config.json in logit order, as transformers reads them:
    id2label, else num_labels generic names, else its default of 2."""
    id2label = config.get("id2label")
    if id2label:
        return tuple(str(id2label[k]) for k in sorted(id2label, key=int))
    return tuple(f"LABEL_{i}" for i in range(int(config.get("num_labels", 2))))


def max_length(tokenizer: Any, config: Any) -> int:
    """Where `truncation=True` cuts: the tokenizer's model_max_length, or, for a tokenizer
    saved without one, the model's position embeddings."""
    limit = int(tokenizer.model_max_length)
    if limit >= _UNSET_MAX_LENGTH:
        return int(config.max_position_embeddings)
    return limit


def problem_type(config: Any) -> str:
    """How logits become scores: the config's problem_type, else regression for one label
    (as transformers' loss treats it) and single-label classification otherwise."""
    if config.problem_type:
        return str(config.problem_type)
    return "regression" if config.num_labels == 1 else "single_label_classification"


def _load(model: str, cache_dir: str | None, device: str, precision: str) -> TextClassifier:
    try:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError:
        raise MissingWeights("text classifiers need transformers and torch",
                             hint="pip install 'mdfql[models]'") from None
    local = looks_local(model)
    source = str(local_path(model, "text classifier")) if local else model
    where = devices.pick_device(device)
    dtype = devices.torch_dtype(devices.pick_precision(where, precision, gpu="bf16"))
    try:
        net = AutoModelForSequenceClassification.from_pretrained(
            source, cache_dir=cache_dir, dtype=dtype, local_files_only=local)
        tokenizer = AutoTokenizer.from_pretrained(source, cache_dir=cache_dir,
                                                  local_files_only=local)
    except OSError as e:  # not in the cache and not downloadable, or no tokenizer files
        error = hub_failure("text classifier", model, cache_dir, e)
        raise MissingWeights(error.message, hint=MODEL_HINT) from None
    if tokenizer.pad_token_id is None:
        raise MissingWeights(f"text classifier {model}: its tokenizer has no padding token",
                             hint="set tokenizer.pad_token and save it again")
    config = net.config
    labels = tuple(str(config.id2label[i]) for i in range(config.num_labels))
    return TextClassifier(net.to(where).eval(), tokenizer, where,
                          max_length(tokenizer, config), labels, problem_type(config))


CACHE: ModelCache[tuple[str, str | None, str, str], TextClassifier] = \
    ModelCache(lambda key: _load(*key))
