"""Text-side filters of the RefinedWeb/FineWeb pipelines (Rust kernels behind thin loaders)."""

from mdfql.text.url_filter import REFINEDWEB_CATEGORIES, UrlFilter, load_url_filter

__all__ = ["REFINEDWEB_CATEGORIES", "UrlFilter", "load_url_filter"]
