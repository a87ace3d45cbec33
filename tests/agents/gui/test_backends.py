"""The model backends. The OpenAI-compatible one against a real HTTP server on 127.0.0.1 of the
test's making (answering normally, slowly, with garbage, with errors, or not there at all); the
transformers one on a tiny randomly initialised Qwen2-VL built from a config here (no download)."""
from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from agents.gui.agent import AgentConfig, GuiAgent
from agents.gui.backends import BackendError, make_backend
from tests.conftest import free_port, gpu

OPEN_SETTINGS = 'Reason: settings hold Wi-Fi.\nAction: {"action_type": "open_app", "app_name": "Settings"}'
DONE = 'Reason: done.\nAction: {"action_type": "status", "goal_status": "complete"}'


def completion(text: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1234, "completion_tokens": 20}}).encode()


class ModelServer:
    """A chat-completions server that plays `answers` in order: (status, body bytes, delay s)."""

    def __init__(self, answers: list[tuple[int, bytes, float]]) -> None:
        self.answers, self.requests = list(answers), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append((self.path, dict(self.headers), json.loads(body)))
                status, payload, delay = server.answers.pop(0) if len(server.answers) > 1 else server.answers[0]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass       # the client gave up waiting (the slow case)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def model_server():
    servers = []

    def start(*answers):
        servers.append(ModelServer(list(answers)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def openai(url: str, **options):
    return make_backend("openai", base_url=url, model="qwen2.5-vl-7b", backoff=0.01, **options)


def test_the_loop_through_the_bus_with_an_openai_compatible_server(model_server, sim_daemon, hub):
    from control.phone import RemotePhone

    server = model_server((200, completion(OPEN_SETTINGS), 0), (200, completion(DONE), 0))
    with RemotePhone(sim_daemon, hub=hub.endpoint) as phone:
        result = GuiAgent(openai(server.url)).run(phone, "Turn Wi-Fi off.")
        assert result.status == "complete" and result.actions == 2
        assert phone.current_app() == "com.android.settings"
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "qwen2.5-vl-7b"
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    image = next(part for part in user["content"] if part["type"] == "image_url")["image_url"]["url"]
    assert image.startswith("data:image/png;base64,")
    png = Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1])))
    assert png.size == (1080, 2400)                 # the phone's screenshot, whole
    assert "Turn Wi-Fi off." in user["content"][-1]["text"]


def test_an_api_key_goes_as_a_bearer_token(model_server, monkeypatch):
    server = model_server((200, completion(DONE), 0))
    monkeypatch.setenv("PODIUM_TEST_KEY", "sk-test")
    reply = openai(server.url, api_key_env="PODIUM_TEST_KEY").reply(None, _prompt())
    assert server.requests[0][1]["Authorization"] == "Bearer sk-test"
    assert reply.prompt_tokens == 1234 and reply.completion_tokens == 20 and "status" in reply.text


def _prompt():
    from agents.gui.prompts import Prompt

    return Prompt("system", "user text", [np.zeros((64, 32, 3), np.uint8)])


def test_a_slow_server_is_a_clear_error_after_the_retries(model_server):
    server = model_server((200, completion(DONE), 2.0))
    backend = openai(server.url, timeout=0.3, retries=1)
    with pytest.raises(BackendError, match=r"did not answer within 0.3 s .*gave up after 2 tries"):
        backend.reply(None, _prompt())
    assert len(server.requests) == 2


def test_a_server_error_is_retried_and_then_succeeds(model_server):
    server = model_server((503, b'{"error": "loading"}', 0), (200, completion(DONE), 0))
    assert "complete" in openai(server.url).reply(None, _prompt()).text
    assert len(server.requests) == 2


def test_a_client_error_fails_at_once_with_the_status_and_body(model_server):
    server = model_server((401, b'{"error": "bad key"}', 0))
    with pytest.raises(BackendError, match=r"HTTP 401.*bad key"):
        openai(server.url, retries=3).reply(None, _prompt())
    assert len(server.requests) == 1


@pytest.mark.parametrize(("body", "says"), [
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b'{"object": "error"}', "not a chat completion"),
    (b'{"choices": []}', "not a chat completion"),
    (b'{"choices": [{"message": {"content": 42}}]}', "content of type int"),
    (b"\xff\xfe\x00garbage", "not JSON"),
])
def test_garbage_bodies_are_clear_errors(model_server, body, says):
    server = model_server((200, body, 0))
    with pytest.raises(BackendError, match=says):
        openai(server.url).reply(None, _prompt())


def test_a_refused_connection_says_where_it_tried():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendError, match=r"cannot connect to the model server at .*127.0.0.1.*is it running"):
        openai(url, retries=1).reply(None, _prompt())


def test_backend_failures_become_failed_steps_not_crashes(model_server):
    from sims.phone.phone import PhoneSim

    server = model_server((200, b"garbage", 0))
    result = GuiAgent(openai(server.url), AgentConfig(max_steps=2)).run(PhoneSim(0), "Turn Wi-Fi off.")
    assert result.status == "step_limit" and all("the model failed" in s.error for s in result.steps)


def test_a_bad_base_url_and_an_unknown_backend_are_refused():
    with pytest.raises(BackendError, match="http"):
        make_backend("openai", base_url="127.0.0.1:8000")
    with pytest.raises(BackendError, match="unknown backend 'gpt'"):
        make_backend("gpt")


# -- transformers --------------------------------------------------------------------------------
def test_the_loop_through_the_bus_with_a_tiny_qwen2_vl(tiny_qwen2vl, sim_daemon, hub):
    from control.phone import RemotePhone

    backend = make_backend("transformers", model_path=tiny_qwen2vl, max_new_tokens=24)
    with RemotePhone(sim_daemon, hub=hub.endpoint) as phone:
        result = GuiAgent(backend, AgentConfig(max_steps=2)).run(phone, "Turn Wi-Fi off.")
    assert result.actions == 2
    for step in result.steps:          # random weights: parseable, or cleanly rejected after one retry
        assert step.raw
        assert step.action is not None or ("unparseable reply" in step.error and step.retried)


def test_the_tiny_model_sees_the_screenshot(tiny_qwen2vl):
    from agents.gui.prompts import Prompt

    backend = make_backend("transformers", model_path=tiny_qwen2vl, max_new_tokens=4)
    text_only = backend.reply(None, Prompt("system", "goal")).prompt_tokens
    with_image = backend.reply(None, Prompt("system", "goal", [np.zeros((2400, 1080, 3), np.uint8)])).prompt_tokens
    assert with_image - text_only >= 8            # the image's visual tokens (8 to 64 for this processor)


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match="not a model folder"):
        make_backend("transformers", model_path=tmp_path)


def test_the_model_runs_in_float32_on_cpu_by_default(tiny_qwen2vl):
    import torch

    backend = make_backend("transformers", model_path=tiny_qwen2vl, device="cpu", max_new_tokens=2)
    assert next(backend.model.parameters()).dtype == torch.float32


@gpu
def test_the_model_runs_in_bf16_on_cuda(tiny_qwen2vl):
    import torch

    from agents.gui.prompts import Prompt

    backend = make_backend("transformers", model_path=tiny_qwen2vl, max_new_tokens=8)
    assert backend.device == "cuda" and next(backend.model.parameters()).dtype == torch.bfloat16
    reply = backend.reply(None, Prompt("system", "goal", [np.zeros((2400, 1080, 3), np.uint8)]))
    assert reply.completion_tokens >= 1
