"""Any OpenAI-compatible chat-completions server: vLLM, Ollama, LM Studio, `transformers serve`,
or a hosted API. Screenshots go as base64 PNG data URLs.

Transient failures (refused or dropped connections, timeouts, 429 and 5xx answers) are retried with
exponential backoff; everything else fails at once. Every failure ends as a BackendError that says
what happened and where, which the agent records as a failed step.
"""
from __future__ import annotations

import base64
import io
import json
import os
from typing import Any

import httpx
import numpy as np
from PIL import Image
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from agents.gui.backends import Backend, BackendError, Reply, StepContext, chat_messages, timed
from agents.gui.prompts import Prompt


class _Transient(Exception):
    """A failure worth another try; carries the BackendError to raise if the tries run out."""

    def __init__(self, error: BackendError) -> None:
        super().__init__(str(error))
        self.error = error


class OpenAIBackend(Backend):
    """`base_url` ends before /chat/completions (e.g. http://127.0.0.1:8000/v1). The key comes
    from `api_key` or the environment variable named by `api_key_env`; local servers need none."""

    name = "openai"

    def __init__(self, *, base_url: str = "http://127.0.0.1:8000/v1", model: str = "default",
                 api_key: str | None = None, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                 connect_timeout: float = 5.0, retries: int = 2, backoff: float = 1.0, max_tokens: int = 256,
                 temperature: float = 0.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise BackendError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.max_tokens, self.temperature = model, max_tokens, temperature
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        key = api_key or os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=connect_timeout))

    def reply(self, context: StepContext, prompt: Prompt) -> Reply:
        body = {"model": self.model, "messages": chat_messages(prompt, _data_url_part),
                "max_tokens": self.max_tokens, "temperature": self.temperature}
        answer, seconds = timed(lambda: self._post(body))
        return _reply(answer, seconds, self.url)

    def _post(self, body: dict[str, Any]) -> Any:
        retrying = Retrying(stop=stop_after_attempt(self.retries + 1), reraise=False,
                            wait=wait_exponential(multiplier=self.backoff, max=30 * self.backoff),
                            retry=retry_if_exception(lambda exc: isinstance(exc, _Transient)))
        try:
            for attempt in retrying:
                with attempt:
                    return self._post_once(body)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            tries = self.retries + 1
            raise BackendError(f"{last.error} (gave up after {tries} tr{'y' if tries == 1 else 'ies'})") from None
        raise AssertionError("unreachable")   # pragma: no cover - Retrying either returns or raises

    def _post_once(self, body: dict[str, Any]) -> Any:
        try:
            response = self.client.post(self.url, json=body)
        except httpx.ConnectError as exc:
            raise _Transient(BackendError(f"cannot connect to the model server at {self.url}: {exc} "
                                          "(is it running, and is the port right?)")) from exc
        except httpx.TimeoutException as exc:
            raise _Transient(BackendError(f"the model server at {self.url} did not answer within "
                                          f"{self.timeout:g} s ({type(exc).__name__})")) from exc
        except httpx.TransportError as exc:
            raise _Transient(BackendError(f"the connection to {self.url} failed: {exc}")) from exc
        if response.status_code >= 400:
            error = BackendError(f"the model server at {self.url} answered HTTP {response.status_code}: "
                                 f"{response.text[:300]!r}")
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(error)
            raise error
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BackendError(f"the model server at {self.url} answered with a body that is not JSON: "
                               f"{response.text[:200]!r}") from None

    def close(self) -> None:
        self.client.close()


def _reply(answer: Any, seconds: float, url: str) -> Reply:
    """The text of a chat completion, or a BackendError naming what is missing."""
    try:
        message = answer["choices"][0]["message"]
        text = message["content"]
    except (KeyError, IndexError, TypeError):
        raise BackendError(f"the model server at {url} answered JSON that is not a chat completion "
                           f"(no choices[0].message.content): {json.dumps(answer)[:200]}") from None
    if isinstance(text, list):        # some servers answer in content parts
        text = "".join(part.get("text", "") for part in text if isinstance(part, dict))
    if not isinstance(text, str):
        raise BackendError(f"the model server at {url} answered content of type {type(text).__name__}, not text")
    usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
    return Reply(text, seconds, _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _data_url_part(image: np.ndarray) -> dict[str, Any]:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"type": "image_url", "image_url": {"url": url}}
