"""Evaluation helpers (scoring extractors against hand-made expectations)."""
