"""A Qwen2-VL-family vision-language model (Qwen2-VL, Qwen2.5-VL, UI-TARS) loaded with transformers
from a local folder: bf16 on CUDA when torch sees one, float32 on CPU otherwise. Nothing is
downloaded: the folder must hold the weights, the tokenizer and the image processor's config.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from agents.gui.backends import Backend, BackendError, Reply, StepContext, chat_messages, timed
from agents.gui.prompts import Prompt


class TransformersBackend(Backend):
    name = "transformers"
    threadsafe = False

    def __init__(self, *, model_path: str | os.PathLike, device: str | None = None, max_new_tokens: int = 128,
                 dtype: str | None = None) -> None:
        path = Path(model_path).expanduser()
        if not (path / "config.json").is_file():
            raise BackendError(f"{path} is not a model folder (no config.json): give a local path "
                               "holding the weights, tokenizer and processor config")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")     # never reach for the network from here
        import torch
        from transformers import AutoModelForImageTextToText

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        chosen = dtype or ("bfloat16" if self.device.startswith("cuda") else "float32")
        self.processor = load_processor(path)
        try:
            self.model = AutoModelForImageTextToText.from_pretrained(path, dtype=getattr(torch, chosen)).eval()
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load the model in {path}: {exc}") from exc
        self.model.to(self.device)
        self.max_new_tokens = max_new_tokens
        self.path = path

    def reply(self, context: StepContext, prompt: Prompt) -> Reply:
        (text, prompt_len, new_len), seconds = timed(lambda: self._generate(prompt))
        return Reply(text, seconds, prompt_len, new_len)

    def _generate(self, prompt: Prompt) -> tuple[str, int, int]:
        from PIL import Image

        messages = chat_messages(prompt, lambda image: {"type": "image"})
        chat = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        images = [Image.fromarray(np.asarray(image)) for image in prompt.images]
        inputs = self.processor(images=images or None, text=[chat], return_tensors="pt").to(self.device)
        with self.torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new = output[0, inputs["input_ids"].shape[1]:]
        return self.processor.decode(new, skip_special_tokens=True), int(inputs["input_ids"].shape[1]), len(new)

    def close(self) -> None:
        self.model = None
        if self.device.startswith("cuda"):
            self.torch.cuda.empty_cache()


def load_processor(path: Path) -> Any:
    """The model's processor. Where AutoProcessor cannot build the full one (Qwen2-VL's processor
    includes a video processor that needs torchvision, which a CPU install may lack, and then
    AutoProcessor quietly hands back only the tokenizer), build the image-only one: the tokenizer
    and image processor are all screenshots need."""
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    try:
        processor = AutoProcessor.from_pretrained(path)
    except (OSError, ValueError, ImportError) as exc:
        processor, error = None, exc
    else:
        error = None
    if processor is not None and getattr(processor, "image_processor", None) is not None:
        return processor
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        image_processor = AutoImageProcessor.from_pretrained(path, backend="pil")
    except (OSError, ValueError, ImportError) as exc:
        raise BackendError(f"cannot load the processor in {path}: {error or exc}") from exc
    return _image_only_processor()(image_processor=image_processor, tokenizer=tokenizer,
                                   chat_template=tokenizer.chat_template)


def _image_only_processor() -> type:
    from transformers import Qwen2VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
        """Qwen2VLProcessor without its video processor (see load_processor)."""

        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            self.image_token, self.video_token = "<|image_pad|>", "<|video_pad|>"
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return ImageOnlyQwen2VLProcessor
