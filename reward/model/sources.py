"""Where a model's files come from: a folder on disk or a hub id (the local cache first, then the hub), how pages
and messages name it, and the one-line reason a load failed with what to do about it."""

from __future__ import annotations

from pathlib import Path

from reward.config import ModelLoadError


def looks_like_path(source: str) -> bool:
    """True for a folder on disk (a path-like string, or one that exists), False for a hub id."""
    return source.startswith((".", "/", "~")) or source.count("/") > 1 or "\\" in source or Path(source).exists()


def display_name(source: str) -> str:
    """How pages and messages name a model: a hub id as it is, a folder by its last part only.

    The full path on the server's disk is nobody else's business.
    """
    if looks_like_path(source):
        return Path(source).expanduser().resolve().name or source
    return source


def why_it_failed(err: BaseException) -> str:
    """The cause of a failed load, in one short phrase."""
    name = type(err).__name__
    text = " ".join(str(err).split()) or name
    if name in ("RepositoryNotFoundError", "GatedRepoError") or "is not a valid model identifier" in text:
        return "there is no such public model on the hub (check the id; private or gated models need HF_TOKEN)."
    if name == "RevisionNotFoundError":
        return "that revision does not exist (check REWARD_REVISION)."
    if "couldn't connect" in text or "offline mode" in text.lower() or "HF_HUB_OFFLINE" in text:
        return "the hub cannot be reached from here (no network, or HF_HUB_OFFLINE=1) and the model is not in the local cache."
    if "safetensors" in text.lower():
        return "it has no safetensors weights, and only safetensors are loaded."
    return text if len(text) <= 200 else text[:197] + "..."


def hub_unreachable() -> bool:
    """True when the hub's host name does not even resolve and no proxy is set.

    Without network, the hub client retries each file for about 20 seconds; this
    answers in milliseconds so that a first run offline gets its message at once.
    """
    import os
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return True
    return False


def from_pretrained(source: str, revision: str | None, is_folder: bool):
    """Tokenizer and model from a folder, from the local hub cache, or from the hub."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    def load(local_only: bool):
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, local_files_only=local_only)
        model = AutoModelForSequenceClassification.from_pretrained(
            source, revision=revision, use_safetensors=True, trust_remote_code=False, local_files_only=local_only)
        return tokenizer, model

    if is_folder:
        return load(local_only=True)
    try:
        # A Space with preload_from_hub, or a second run on a laptop, finds it cached.
        return load(local_only=True)
    except Exception:  # noqa: BLE001 - not cached (or cached incompletely): ask the hub
        if hub_unreachable():
            raise OSError("couldn't connect to the hub: its host name does not resolve") from None
        return load(local_only=False)


HOW_TO_FIX = "set REWARD_MODEL=/path/to/folder (a folder with config.json, model.safetensors and the tokenizer files)"


def check_folder(folder: Path, shown: str) -> None:
    """Refuse, in one line that says what to do, a folder that is not a saved model with safetensors weights."""
    if not folder.is_dir():
        raise ModelLoadError(f"Cannot load reward model {shown!r}: no such folder. To use a model on disk, {HOW_TO_FIX}.")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"Cannot load reward model {shown!r}: the folder has no config.json, so it is not a "
                             f"saved transformers model. To use a model on disk, {HOW_TO_FIX}.")
    if not any(folder.glob("*.safetensors")):
        raise ModelLoadError(f"Cannot load reward model {shown!r}: the folder has no .safetensors weights, and only "
                             f"safetensors are loaded. Convert the weights, or {HOW_TO_FIX}.")
