"""Prompt size as a Qwen2-VL-family model counts it, and the prompt templates' version."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from agents.gui.prompts import PROMPT_VERSION, Prompt, image_tokens, model_image_size, prompt_tokens, text_tokens


@pytest.mark.parametrize(("width", "height"), [(1080, 2400), (720, 1280), (100, 100), (1440, 3200), (2400, 1080)])
def test_image_tokens_match_the_qwen2_vl_processor(width, height):
    from transformers import Qwen2VLImageProcessorPil

    grid = Qwen2VLImageProcessorPil()(images=[Image.new("RGB", (width, height))], return_tensors="np")
    t, rows, cols = grid["image_grid_thw"][0]
    assert image_tokens(width, height) == t * rows * cols // 4            # 2x2 patches merge into one token
    assert model_image_size(width, height) == (cols * 14, rows * 14)


def test_text_tokens_are_not_cut_at_the_embedders_window():
    assert 990 <= text_tokens("word " * 1000) <= 1010
    assert text_tokens("Turn Wi-Fi off.") < 10


def test_a_prompt_counts_its_texts_and_every_image():
    screen = np.zeros((2400, 1080, 3), np.uint8)
    one = prompt_tokens(Prompt("system text", "goal and history", [screen]))
    two = prompt_tokens(Prompt("system text", "goal and history", [screen, screen]))
    assert two - one == image_tokens(1080, 2400)


def test_the_prompt_version_is_a_hash_of_the_templates():
    assert len(PROMPT_VERSION) == 12 and int(PROMPT_VERSION, 16) >= 0
