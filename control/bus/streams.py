"""PUB/SUB streams for telemetry and broadcasts (later: policy weights).

A message is [topic, header, buffers...]: the topic frame lets zmq filter by prefix; the header is a
wire PUBLISH message whose body carries the topic, a per-topic sequence number and the value.

Subscribers choose a mode:
- "latest": keep only the newest value per topic (what a policy wants of its weights). zmq's own
  CONFLATE option cannot be used: it does not support multipart messages. So a receiver thread
  drains the socket and overwrites; each overwritten value counts as a drop.
- "queue": keep up to `maxlen` values in arrival order; when full the oldest is dropped and counted.
Sequence gaps (messages lost at the publisher's high-water mark or while disconnected) are counted
as drops too, so `drops` tells the whole story.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import zmq

from control.bus import wire
from control.bus.security import ClientCurve, ServerCurve, check_bind
from control.errors import CallTimeout, WireError

log = logging.getLogger(__name__)

MODES = ("latest", "queue")


@dataclass(frozen=True, slots=True)
class Sample:
    topic: str
    seq: int
    value: Any
    received_at: float


class Publisher:
    """Binds a PUB socket and publishes values under topics."""

    def __init__(self, endpoint: str = "tcp://127.0.0.1:*", *, hwm: int = 1000,
                 curve: ServerCurve | None = None, context: zmq.Context | None = None) -> None:
        check_bind(endpoint, curve)
        self.context = context or zmq.Context.instance()
        self._auth = curve.start_authenticator(self.context) if curve else None
        self.socket = self.context.socket(zmq.PUB)
        self.socket.linger = 0
        self.socket.sndhwm = hwm
        if curve:
            curve.apply(self.socket)
        self.socket.bind(endpoint)
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._seq: dict[str, int] = collections.defaultdict(int)
        self._lock = threading.Lock()

    def publish(self, topic: str, value: Any) -> int:
        """Send `value` on `topic`; returns its sequence number. Never blocks (PUB drops at HWM)."""
        with self._lock:
            seq = self._seq[topic]
            self._seq[topic] = seq + 1
            frames = wire.encode(wire.Message(wire.PUBLISH, body={"topic": topic, "seq": seq,
                                                                   "value": value}))
            self.socket.send_multipart([topic.encode(), *frames], copy=False)
        return seq

    def close(self) -> None:
        self.socket.close(linger=0)
        if self._auth is not None:
            self._auth.stop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MAX_TOPICS = 4096  # topics whose sequence (and, in latest mode, newest sample) a subscriber keeps


class Subscriber:
    """Receives topics (zmq prefix match; "" = all) from one or more publishers.

    Per-topic state is bounded (`max_topics`): a publisher sending ever new topic names makes the
    subscriber forget the oldest topics (their pending latest sample counts as dropped)."""

    def __init__(self, endpoints: str | Iterable[str], topics: Iterable[str] = ("",), *,
                 mode: str = "queue", maxlen: int = 1000, curve: ClientCurve | None = None,
                 context: zmq.Context | None = None, max_topics: int = MAX_TOPICS) -> None:
        if mode not in MODES:
            raise ValueError(f"subscriber mode must be one of {MODES}, got {mode!r}")
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        self.mode = mode
        self.max_topics = max_topics
        self.drops = 0
        self.malformed = 0
        self.received = 0
        self._queue: collections.deque[Sample] = collections.deque(maxlen=maxlen)
        self._latest: dict[str, Sample] = {}
        self._last_seq: dict[str, int] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.SUB)
        self.socket.linger = 0
        if curve:
            curve.apply(self.socket)
        for endpoint in [endpoints] if isinstance(endpoints, str) else endpoints:
            self.socket.connect(endpoint)
        for topic in topics:
            self.socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._thread = threading.Thread(target=self._receive_loop, name="podium-subscriber",
                                        daemon=True)
        self._thread.start()

    def _receive_loop(self) -> None:
        try:
            while not self._stop.is_set():
                if self.socket.poll(100):
                    self._accept(self.socket.recv_multipart(copy=False))
        finally:
            self.socket.close(linger=0)

    def _accept(self, frames: list[zmq.Frame]) -> None:
        try:
            message = wire.decode(frames[1:])
            body = message.body
            if message.kind != wire.PUBLISH or not isinstance(body, dict):
                raise WireError(f"expected a publish message, got {message.kind}")
            sample = Sample(str(body["topic"]), int(body["seq"]), body.get("value"), time.time())
        except (WireError, KeyError, TypeError, ValueError) as exc:
            self.malformed += 1
            log.debug("subscriber dropped a malformed message: %s", exc)
            return
        with self._cond:
            self.received += 1
            last = self._last_seq.get(sample.topic)
            if last is not None and sample.seq > last + 1:
                self.drops += sample.seq - last - 1
            elif last is None and len(self._last_seq) >= self.max_topics:
                forgotten = next(iter(self._last_seq))  # the topic first seen longest ago
                del self._last_seq[forgotten]
                if self._latest.pop(forgotten, None) is not None:
                    self.drops += 1
            self._last_seq[sample.topic] = sample.seq
            if self.mode == "latest":
                if sample.topic in self._latest:
                    self.drops += 1
                self._latest[sample.topic] = sample
            else:
                if len(self._queue) == self._queue.maxlen:
                    self.drops += 1
                self._queue.append(sample)
            self._cond.notify_all()

    def get(self, timeout: float | None = None, topic: str | None = None) -> Sample:
        """Next sample (queue mode) or the newest not yet taken (latest mode); CallTimeout if none."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                sample = self._take(topic)
                if sample is not None:
                    return sample
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise CallTimeout(f"no message on topic {topic or '*'} within {timeout:g} s")
                self._cond.wait(remaining)

    def _take(self, topic: str | None) -> Sample | None:
        if self.mode == "latest":
            names = [topic] if topic is not None else sorted(self._latest)
            for name in names:
                if name in self._latest:
                    return self._latest.pop(name)
            return None
        for i, sample in enumerate(self._queue):
            if topic is None or sample.topic == topic:
                del self._queue[i]
                return sample
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
