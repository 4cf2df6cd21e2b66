"""Where model weights come from: a local file or folder, or a Hugging Face hub id fetched
into the hub cache (HF_HOME / HF_HUB_CACHE, or `cache_dir`). Missing weights are a
`MissingWeights` error saying what was looked for and how to supply it."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from mdfql.errors import MdfqlError

SUPPLY_HINT = ("give a local file or folder (e.g. pretrained := '/path/to/weights.pt'), or "
               "download the hub files where there is a network (huggingface-cli download "
               "ORG/REPO) and point HF_HOME or cache_dir at that cache")


class MissingWeights(MdfqlError):
    """Weights a model function needs are not on this machine and cannot be fetched."""

    def __init__(self, message: str, hint: str | None = SUPPLY_HINT):
        super().__init__(message, hint=hint)

    def __reduce__(self):  # crosses process boundaries (Ray workers) with its hint
        return (MissingWeights, (self.message, self.hint))


def looks_local(ref: str) -> bool:
    """Whether `ref` names a path rather than a hub id or tag: it exists, or is written as a
    path (absolute, ./, ../, ~)."""
    return os.path.exists(os.path.expanduser(ref)) or ref.startswith(("/", "./", "../", "~"))


def local_path(ref: str, what: str) -> Path:
    """The existing local file or folder `ref`, else MissingWeights."""
    path = Path(ref).expanduser()
    if not path.exists():
        raise MissingWeights(f"{what}: no such file or folder: {ref}")
    return path


def cache_note(cache_dir: str | None) -> str:
    """Which hub cache was searched, in words."""
    if cache_dir:
        return f"cache_dir {cache_dir}"
    try:
        from huggingface_hub import constants
        return f"the hub cache {constants.HF_HUB_CACHE}"
    except ImportError:
        return "the hub cache"


def hub_failure(what: str, ref: str, cache_dir: str | None, error: BaseException
                ) -> MissingWeights:
    """The error for hub weights that are neither cached nor downloadable."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    return MissingWeights(f"{what}: weights '{ref}' are not in {cache_note(cache_dir)} and "
                          f"could not be downloaded ({type(error).__name__}: {first})")


def hub_file(ref: str, what: str, cache_dir: str | None = None) -> Path:
    """A single weights file named `org/repo/path/in/repo` on the hub, from the cache or
    downloaded into it."""
    parts = ref.removeprefix("hf-hub:").split("/")
    if len(parts) < 3:
        raise MissingWeights(f"{what}: '{ref}' is neither a local file nor a hub file "
                             "(ORG/REPO/FILE)", hint="e.g. weights := '/path/to/head.pth'")
    try:
        from huggingface_hub import hf_hub_download
        return Path(hf_hub_download("/".join(parts[:2]), "/".join(parts[2:]),
                                    cache_dir=cache_dir))
    except Exception as e:  # offline, not found, no access: the same answer for the user
        raise hub_failure(what, ref, cache_dir, e) from None


def weights_file(ref: str, what: str, cache_dir: str | None = None) -> Path:
    """A weights file from a local path or a hub id (`org/repo/file`)."""
    return local_path(ref, what) if looks_local(ref) else hub_file(ref, what, cache_dir)


def check_local(ref: str | None, what: str) -> None:
    """At plan time: a reference written as a path must exist (hub ids are resolved when the
    model loads, on the workers). Raises ValueError (an error at the call)."""
    if ref is not None and looks_local(ref) and not os.path.exists(os.path.expanduser(ref)):
        raise ValueError(f"{what}: no such file or folder: {ref}")


# Seconds a plan-time probe of the hub may take (an offline machine fails at once: no DNS)
HUB_PROBE_TIMEOUT_S = 5.0
MODEL_HINT = ("give a save_pretrained folder (model := '/path/to/model'), or download the "
              "model where there is a network (huggingface-cli download ORG/REPO) and point "
              "HF_HOME or cache_dir at that cache")


def check_transformers_model(ref: str, what: str, cache_dir: str | None
                             ) -> dict[str, Any] | None:
    """At plan time: the `config.json` of the transformers model `ref`, a `save_pretrained`
    folder or a hub id, read from the folder or the hub cache; None when it is on the hub but
    not cached yet (the workers download it when they load it). Raises ValueError (an error at
    the call) when the models extra is missing, the folder has no config.json, or a hub id is
    neither cached nor reachable (HF_HUB_OFFLINE, no network, no such repo)."""
    missing = [m for m in ("torch", "transformers", "huggingface_hub")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"{what}: needs {', '.join(missing)} (pip install 'mdfql[models]')")
    if looks_local(ref):
        check_local(ref, what)
        config = Path(ref).expanduser() / "config.json"
        if not config.is_file():
            raise ValueError(f"{what}: {ref} has no config.json (a save_pretrained folder, or "
                             "a hub id ORG/REPO)")
        return json.loads(config.read_text())
    from huggingface_hub import constants, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.file_download import get_hf_file_metadata

    try:
        cached = try_to_load_from_cache(ref, "config.json", cache_dir=cache_dir)
    except ValueError as e:  # not a valid repo id (HFValidationError)
        raise ValueError(f"{what}: '{ref}' is neither a local folder nor a hub id ORG/REPO "
                         f"({str(e).splitlines()[0]})") from None
    if isinstance(cached, str):
        return json.loads(Path(cached).read_text())
    if constants.HF_HUB_OFFLINE:
        raise ValueError(f"{what}: '{ref}' is not in {cache_note(cache_dir)} and the hub is "
                         f"offline (HF_HUB_OFFLINE); {MODEL_HINT}")
    try:
        get_hf_file_metadata(hf_hub_url(ref, "config.json"), timeout=HUB_PROBE_TIMEOUT_S)
    except Exception as e:  # unreachable, no such repo, gated: the weights cannot come
        raise ValueError(f"{hub_failure(what, ref, cache_dir, e).message}; {MODEL_HINT}"
                         ) from None
    return None
