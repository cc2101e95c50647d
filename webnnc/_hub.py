"""Hub: pywebnn's client for WebNN models published on the Hugging Face Hub.

A model repository holds ``model.webnn`` (the webnn-graph text format), ``model.weights``
and ``manifest.json``. :meth:`Hub.download_model` fetches them into a local folder and
returns their paths; ``webnnc.MLGraph.load(paths["graph"], paths["manifest"],
paths["weights"])`` or ``webnnc compile PATH`` then compiles the graph once into the cache.

# NOTE: the download folder is pywebnn's (``$XDG_CACHE_HOME/webnn``, else ``~/.cache/webnn``)
# so both packages share downloads. Files are written beside their final name and renamed,
# so an interrupted download never leaves a truncated file that a later call would take
# as cached. Model ids are checked (``owner/name``, no path tricks) before they name a folder.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from pathlib import Path

__all__ = ["Hub"]

logger = logging.getLogger(__name__)

_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_FILES = {"graph": "model.webnn", "weights": "model.weights", "manifest": "manifest.json"}


def _default_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "webnn"


class Hub:
    """Download WebNN models from the Hugging Face Hub (or another ``endpoint``).

    Args:
        cache_dir: where models are kept (default ``$XDG_CACHE_HOME/webnn`` or
            ``~/.cache/webnn``, pywebnn's folder).
        endpoint: the hub's base URL (default ``$HF_ENDPOINT`` or ``https://huggingface.co``).
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None, endpoint: str | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _default_folder()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")

    def _folder(self, model_id: str) -> Path:
        if not isinstance(model_id, str) or not _MODEL_ID.fullmatch(model_id) or ".." in model_id:
            raise ValueError(f"Hub: model id must look like 'owner/model-name'; found {model_id!r}")
        return self.cache_dir / model_id.replace("/", "--")

    def download_model(self, model_id: str, force: bool = False) -> dict[str, str]:
        """Fetch a model's three files (unless already here) and return their paths.

        Returns:
            ``{"graph": ..., "weights": ..., "manifest": ...}``.

        Raises:
            ValueError: ``model_id`` is not ``owner/name``.
            RuntimeError: a download failed, or the graph file is empty.
        """
        from urllib.error import URLError
        from urllib.request import urlopen

        folder = self._folder(model_id)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {kind: folder / name for kind, name in _FILES.items()}
        for kind, path in paths.items():
            if path.is_file() and not force:
                logger.info("Hub: %s already downloaded", path)
                continue
            url = f"{self.endpoint}/{model_id}/resolve/main/{_FILES[kind]}"
            if url.startswith(("http://", "https://")):
                url += "?download=true"
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
            try:
                with urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
                    shutil.copyfileobj(response, f, 1 << 20)
                os.replace(tmp, path)
            except (URLError, OSError) as e:
                raise RuntimeError(f"Hub: cannot download {kind} of {model_id} from {url}: {e}") from None
            finally:
                tmp.unlink(missing_ok=True)
            logger.info("Hub: downloaded %s (%d bytes)", path, path.stat().st_size)
        if not paths["graph"].read_text(errors="replace").strip():
            raise RuntimeError(f"Hub: {paths['graph']} is empty; not a webnn-graph model")
        return {kind: str(path) for kind, path in paths.items()}

    def list_cached_models(self) -> list[str]:
        """The ids of the models in :attr:`cache_dir`, sorted."""
        if not self.cache_dir.is_dir():
            return []
        return sorted(p.name.replace("--", "/", 1) for p in self.cache_dir.iterdir() if p.is_dir())

    def clear_cache(self, model_id: str | None = None) -> None:
        """Remove one model's files, or every model's when ``model_id`` is None."""
        target = self.cache_dir if model_id is None else self._folder(model_id)
        if target.is_dir():
            shutil.rmtree(target)
