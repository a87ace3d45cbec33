"""Request/reply over ZeroMQ: a Server exposes an object's public methods, a Client calls them.

Server: one ROUTER socket; calls run one at a time in the serving thread, in arrival order, so the
exposed object needs no locks (a MuJoCo env is not thread-safe). Many clients interleave freely.
Anything malformed, too large, of another protocol version or past its deadline gets an error
reply (or is dropped when not even a request id can be read) and is counted in `Server.stats`;
the server keeps serving.

Client: one DEALER socket. Every call has a deadline and ends in the return value, a RemoteError
(subclassing the remote exception's builtin type where there is one), or CallTimeout naming the
service and method. After a timeout the socket is replaced, so a late reply or a request still
queued for a dead server can never be mistaken for the answer to a later call. Only calls marked
idempotent are retried.
"""
from __future__ import annotations

import contextlib
import inspect
import itertools
import logging
import math
import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import zmq
import zmq.utils.monitor

from control.bus import wire
from control.bus.security import ClientCurve, ServerCurve, check_bind
from control.errors import (
    AuthenticationFailed,
    CallTimeout,
    DeadlineExceeded,
    InternalError,
    InvalidOption,
    MessageTooLarge,
    PodiumError,
    RemoteError,
    SecurityConfigError,
    UnknownMethod,
    UnsupportedVersion,
    WireError,
    error_type_name,
    remote_error_class,
)

log = logging.getLogger(__name__)

_SNDMORE, _RCVTIMEO = int(zmq.SNDMORE), int(zmq.RCVTIMEO)
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
_yield_cpu = getattr(os, "sched_yield", lambda: None)  # (os.sched_yield: POSIX only)


def send_frames(sock: zmq.Socket, frames: Sequence[Any]) -> None:
    """Send one multipart message (bytes, Frames or buffers; large ones without a copy).
    pyzmq's send_multipart costs about twice this for a small message: it type-checks every frame
    in Python and combines flag enums, a microsecond per frame on each side of every call."""
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        sock.send(frame, _SNDMORE if i < last else 0, copy=False)


def recv_frames(sock: zmq.Socket) -> list[zmq.Frame]:
    """Receive one multipart message as Frames, asking each frame rather than the socket whether
    more follow (recv_multipart's getsockopt per frame is the dearer way)."""
    frame = sock.recv(copy=False)
    frames = [frame]
    while frame.more:
        frame = sock.recv(copy=False)
        frames.append(frame)
    return frames


DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# How far a caller's clock may run behind ours before we think its deadline passed (seconds).
DEFAULT_CLOCK_SKEW = 0.5
RESERVED_PREFIX = "_podium."
# Every counter a server keeps; `_podium.stats` reports them all, zeros included (plus one per
# one-way kind the server handles, e.g. `heartbeat` on the hub).
STATS = ("calls", "meta_calls", "errors", "expired", "rejected_too_large", "rejected_malformed",
         "rejected_version", "rejected_kind", "unsent_replies", "internal_errors")
# What a client's socket monitor watches until the first handshake: its outcome, nothing else.
HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
HANDSHAKE_EVENTS = HANDSHAKE_FAILED | zmq.EVENT_HANDSHAKE_SUCCEEDED
MAX_LOGGED_FAULTS = 32  # distinct internal faults logged with their traceback (then debug only)


# How long a client busy-waits for a reply before it blocks (seconds): the budget of the kernel's
# own haltpoll governor (guest_halt_poll_ns, 200 us upstream). See ReplySpin. The environment
# variable sets it for every client of a process that is not given one (0: never spin).
DEFAULT_SPIN = 200e-6
MAX_SPIN = 0.01  # beyond this a spin costs more CPU than any wake-up it saves
SPIN_ENV = "PODIUM_SPIN_US"


def default_spin() -> float:
    """The spin limit in seconds: $PODIUM_SPIN_US (microseconds) where set, else DEFAULT_SPIN."""
    text = os.environ.get(SPIN_ENV)
    if not text:  # unset or empty: as for podium's other variables
        return DEFAULT_SPIN
    try:
        micros = float(text)
    except ValueError:
        micros = math.nan
    if not 0 <= micros <= MAX_SPIN * 1e6:
        raise InvalidOption(f"{SPIN_ENV}={text!r}: must be a number of microseconds from 0 "
                            f"(never spin) to {MAX_SPIN * 1e6:.0f}")
    return micros * 1e-6


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class ReplySpin:
    """Whether and how long to busy-wait for a reply before blocking in the kernel.

    A thread that blocks lets its CPU go idle; a virtual CPU that goes idle is halted by the guest
    kernel, and waking it again costs the host tens of microseconds, on top of which the code that
    handles the reply runs cold. On a KVM guest whose haltpoll governor does not poll first
    (guest_halt_poll_ns=0, as on the machines podium is benchmarked on) that is most of a small
    call's round trip: 135 µs blocking against 70 µs spinning for raw pyzmq (docs/benchmarks.md).

    So a client spins on its socket for up to `limit` while most replies come that fast, and
    blocks at once for services slower than that: it keeps the share of recent replies that came
    within `limit` (weighted 1/4 to the newest, starting at all), spins while that is at least
    half, and otherwise spins on every PROBE_EVERY-th call only, to see whether the service got
    faster. A blocked call that waited longer than `limit` does not count: its wait includes the
    wake-up, so it cannot tell. A slow service costs `limit` of CPU on 3 calls, then on one call in
    PROBE_EVERY; a process confined to one CPU never spins (it would only delay the server).
    No library does this for zmq sockets, hence the code here."""

    PROBE_EVERY = 16

    def __init__(self, limit: float = DEFAULT_SPIN, cpus: int | None = None) -> None:
        if not 0 <= limit <= MAX_SPIN:
            raise InvalidOption(f"spin must be from 0 to {MAX_SPIN} seconds, got {limit!r}")
        self.limit = limit if (usable_cpus() if cpus is None else cpus) > 1 else 0.0
        self.fast_share = 1.0  # of recent replies, those that came within `limit`
        self._calls_blocked = 0

    @property
    def spinning(self) -> bool:
        return bool(self.limit) and self.fast_share >= 0.5

    def next_window(self) -> float:
        """How long the next call's wait spins (0: it blocks at once); once per call."""
        if self.spinning:
            return self.limit
        self._calls_blocked += 1
        return self.limit if self._calls_blocked % self.PROBE_EVERY == 0 else 0.0

    def observe(self, waited: float, window: float) -> None:
        """Record how long a call whose wait had `window` waited for its reply (from the start of
        its wait: a reply that was already there when a caller came for it was fast)."""
        fast = waited <= self.limit
        if fast or window:
            self.fast_share += (fast - self.fast_share) / 4

    def wait(self, sock: zmq.Socket, window: float, deadline: float | None = None) -> None:
        """Spin until `sock` has a message, the window has passed or the deadline (Unix time) has
        come, whichever is first; the receive then blocks. Nothing is received here."""
        if not window:
            return
        clock = time.perf_counter
        if deadline is not None:
            window = min(window, deadline - time.time())
        end = clock() + window
        # ZMQ_EVENTS processes the socket's pending commands (one non-blocking poll(2) of its
        # mailbox, never a halt): the cheapest readiness test there is (Socket.poll builds a Poller
        # per call, a refused NOBLOCK receive raises).
        # sched_yield lets go of the GIL on every turn without sleeping: a server thread in this
        # process (or any other thread) must be able to run while this one waits, or the spin
        # would delay the very reply it waits for. (time.sleep(0) would sleep: timer slack.)
        while not sock.getsockopt(_EVENTS) & _POLLIN and clock() < end:
            _yield_cpu()


def idempotent(method: Callable) -> Callable:
    """Mark a method as safe to run twice: clients may then retry it after a timeout."""
    method.__podium_idempotent__ = True
    return method


def public_methods(target: object) -> dict[str, Callable]:
    """The callables a Server exposes: public attributes of target that are routines."""
    methods = {}
    for name in dir(target):
        if name.startswith("_"):
            continue
        attr = getattr(target, name, None)
        if callable(attr) and not inspect.isclass(attr):
            methods[name] = attr
    return methods


def describe_method(method: Callable) -> dict[str, Any]:
    try:
        signature = str(inspect.signature(method))
    except (TypeError, ValueError):
        signature = "(...)"
    return {"signature": signature, "doc": inspect.getdoc(method) or "",
            "idempotent": bool(getattr(method, "__podium_idempotent__", False))}


def bind_with_retry(socket: zmq.Socket, endpoint: str, patience: float = 2.0) -> None:
    """Bind, retrying briefly while the address is in use: a server restarted on its old address
    (a hub brought back by its supervisor) races zmq's asynchronous close of the previous socket."""
    deadline = time.monotonic() + patience
    while True:
        try:
            socket.bind(endpoint)
            return
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Server:
    """Serve the public methods of `target` on `endpoint` (ROUTER).

    `endpoint` may end in `:*` to pick a free port; `self.endpoint` holds the bound address.
    `handlers` maps one-way message kinds (e.g. wire.HEARTBEAT) to functions taking the Message.
    """

    def __init__(self, target: object, endpoint: str = "tcp://127.0.0.1:*", *, name: str = "service",
                 curve: ServerCurve | None = None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 clock_skew: float = DEFAULT_CLOCK_SKEW,
                 handlers: Mapping[str, Callable[[wire.Message], None]] | None = None,
                 context: zmq.Context | None = None) -> None:
        check_bind(endpoint, curve)
        self.name = name
        self.target = target
        self.methods = public_methods(target)
        self.handlers = dict(handlers or {})
        self.max_message_bytes = max_message_bytes
        self.clock_skew = clock_skew
        self.stats: Counter[str] = Counter(dict.fromkeys((*STATS, *sorted(self.handlers)), 0))
        self._faults_logged: set[tuple[str, str]] = set()
        # A secured server gets a context of its own: zmq allows one authenticator per context.
        self._own_context = context is None and curve is not None
        self.context = zmq.Context() if self._own_context else (context or zmq.Context.instance())
        self._auth = curve.start_authenticator(self.context) if curve else None
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.linger = 0
        # zmq drops (and disconnects) any peer sending a single frame beyond this: the first line of
        # defence. Multipart totals are checked again below, where an error reply is still possible.
        self.socket.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._serving = False
        try:
            if curve:
                curve.apply(self.socket)
            bind_with_retry(self.socket, endpoint)
        except BaseException:
            self._close()
            raise
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._reserved = {
            RESERVED_PREFIX + "ping": lambda: "pong",
            RESERVED_PREFIX + "describe": self.describe,
            RESERVED_PREFIX + "stats": lambda: dict(self.stats),
        }

    # -- lifecycle -------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called."""
        # A blocking receive that wakes every 100 ms to look at the stop flag: one system call
        # per message, where poll-then-receive costs two.
        self.socket.rcvtimeo = 100
        self._serving = True
        try:
            while not self._stop.is_set():
                try:
                    frames = recv_frames(self.socket)
                except zmq.Again:
                    continue
                self._serve_one_safely(frames)
        finally:
            self._close()

    def start(self) -> Server:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name=f"podium-server-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        elif not self._serving:
            self._close()  # never served: nothing else will close it (serve_forever's finally does)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.socket.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
        if self._own_context:
            self.context.term()

    # -- serving ---------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Name, protocol version and the methods served, with signatures and docs."""
        return {"name": self.name, "protocol": wire.PROTOCOL_VERSION,
                "methods": {name: describe_method(m) for name, m in sorted(self.methods.items())}}

    def _serve_one_safely(self, frames: list[zmq.Frame]) -> None:
        """Serve one message; whatever goes wrong with it, the loop goes on to the next.

        The handling below refuses every malformed message deliberately; this is the net under it,
        for the faults nobody foresaw (a bug, MemoryError, RecursionError). Each is counted in
        `internal_errors`, logged with the peer (with a traceback the first time each kind of fault
        is seen; the set of kinds is bounded) and answered with an InternalError where the
        message's id can be read."""
        try:
            self._serve_one(frames)
        except Exception as exc:
            self.stats["internal_errors"] += 1
            try:
                identity = frames[0]
                self._log_fault(identity, exc, "internal error handling a message (served on)",
                                logging.ERROR)
                req_id = wire.peek_id(frames[1:]) if len(frames) > 1 else None
                if req_id is not None:
                    self._reply_error(identity, req_id, InternalError(
                        f"the server failed while handling this message ({type(exc).__name__}) "
                        "and serves on"))
            except Exception:  # not even logging or an error reply worked: the loop still goes on
                pass

    def _log_fault(self, identity: Any, exc: BaseException, what: str, level: int) -> None:
        """Log a peer-caused or internal fault: with its traceback the first time each kind of
        fault (type and place) is seen, at debug level after that, so no peer can flood the log."""
        peer = bytes(identity.buffer).hex() if isinstance(identity, zmq.Frame) else repr(identity)
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"
        fault = (type(exc).__qualname__, where)
        first = fault not in self._faults_logged and len(self._faults_logged) < MAX_LOGGED_FAULTS
        if first:
            self._faults_logged.add(fault)
        log.log(level if first else logging.DEBUG, "%s: %s, from peer %s: %s: %s", self.name, what,
                peer, type(exc).__name__, exc, exc_info=first)

    def _serve_one(self, frames: list[zmq.Frame]) -> None:
        identity, payload = frames[0], frames[1:]
        size = wire.message_size(payload)
        if size > self.max_message_bytes:
            self.stats["rejected_too_large"] += 1
            self._reply_error(identity, wire.peek_id(payload), MessageTooLarge(
                f"message of {size} bytes exceeds the limit of {self.max_message_bytes} bytes"))
            return
        try:
            message = wire.decode(payload)
        except WireError as exc:
            self.stats["rejected_version" if isinstance(exc, UnsupportedVersion)
                       else "rejected_malformed"] += 1
            log.debug("%s: rejected message: %s", self.name, exc)
            self._reply_error(identity, wire.peek_id(payload), exc)
            return
        if message.kind != wire.CALL:
            self._handle_one_way(identity, message)
            return
        self._handle_call(identity, message)

    def _handle_one_way(self, identity: zmq.Frame, message: wire.Message) -> None:
        handler = self.handlers.get(message.kind)
        if handler is None:
            self.stats["rejected_kind"] += 1
            return
        try:
            handler(message)
            self.stats[message.kind] += 1
        except Exception as exc:  # a bad one-way message must not stop the server
            self.stats["rejected_malformed"] += 1
            self._log_fault(identity, exc, f"{message.kind} handler failed", logging.WARNING)

    def _handle_call(self, identity: zmq.Frame, message: wire.Message) -> None:
        if message.deadline is not None and time.time() > message.deadline + self.clock_skew:
            self.stats["expired"] += 1
            self._reply_error(identity, message.id, DeadlineExceeded(
                f"call to {message.method} arrived after its deadline; not run"))
            return
        try:
            method = self._lookup(message.method)
            args, kwargs = _call_arguments(message.body)
            result = method(*args, **kwargs)
        except Exception as exc:
            self.stats["errors"] += 1
            self._reply_error(identity, message.id, exc, with_traceback=not isinstance(exc, PodiumError))
            return
        self.stats["meta_calls" if message.method.startswith(RESERVED_PREFIX) else "calls"] += 1
        try:
            frames = wire.encode(wire.Message(wire.REPLY, message.id, body=result))
        except WireError as exc:
            self.stats["errors"] += 1
            self._reply_error(identity, message.id, WireError(
                f"{message.method} returned a value the wire cannot carry: {exc}"))
            return
        self._send(identity, frames)

    def _lookup(self, method_name: str | None) -> Callable:
        if type(method_name) is not str:
            raise WireError("a call must name its method")
        method = self.methods.get(method_name) or self._reserved.get(method_name)
        if method is None:
            known = ", ".join(sorted(self.methods)) or "none"
            raise UnknownMethod(f"service {self.name!r} has no method {method_name!r} (it has: {known})")
        return method

    def _reply_error(self, identity: zmq.Frame, req_id: int | None, exc: BaseException,
                     with_traceback: bool = False) -> None:
        body = {"type": error_type_name(exc), "message": str(exc.args[0]) if len(exc.args) == 1 else str(exc),
                "traceback": traceback.format_exc(limit=20) if with_traceback else None}
        self._send(identity, wire.encode(wire.Message(wire.ERROR, req_id, body=body)))

    def _send(self, identity: zmq.Frame, frames: list[Any]) -> None:
        try:
            send_frames(self.socket, [identity, *frames])
        except zmq.ZMQError as exc:  # the peer vanished, or its queue is full: its loss, not ours
            self.stats["unsent_replies"] += 1
            log.debug("%s: could not send reply: %s", self.name, exc)


def _call_arguments(body: Any) -> tuple[list, dict]:
    if body is None:
        return [], {}
    if not isinstance(body, dict):
        raise WireError(f"call body must be a map with 'args' and 'kwargs', got {type(body).__name__}")
    args, kwargs = body.get("args", []), body.get("kwargs", {})
    if not isinstance(args, (list, tuple)):
        raise WireError(f"call args must be a list, got {type(args).__name__}")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise WireError("call kwargs must be a map with string keys")
    return list(args), kwargs


class _Pending(NamedTuple):
    """A call sent and not yet answered."""

    socket: zmq.Socket
    method: str
    id: int
    deadline: float
    timeout: float


def request_each(calls: Sequence[tuple[Client, str, Mapping[str, Any]]]) -> list[Any]:
    """Make one call (client, method, keyword arguments) on each of several clients at once: every
    request is sent before any reply is awaited, so the services work in parallel without a thread
    per call (a thread pool's hand-offs cost more than a small call). Replies come back in order;
    calls are not retried; the first error is raised once every reply is in, so no reply is left
    unread on a socket."""
    clients = [client for client, _, _ in calls]
    if len({id(c) for c in clients}) != len(clients):
        raise ValueError("request_each takes one call per client")
    with contextlib.ExitStack() as held:
        for client in sorted(clients, key=id):  # one order for every caller: no lock-order deadlock
            held.enter_context(client._lock)
        sent: list[_Pending | PodiumError] = []
        for client, method, kwargs in calls:
            try:
                sent.append(client._send(method, {"args": [], "kwargs": dict(kwargs)}, client.timeout))
            except PodiumError as exc:
                sent.append(exc)
        results: list[Any] = []
        for client, pending in zip(clients, sent):
            try:
                results.append(pending if isinstance(pending, PodiumError) else client._collect(pending))
            except PodiumError as exc:
                results.append(exc)
    for result in results:
        if isinstance(result, PodiumError):
            raise result
    return results


class Client:
    """Call methods of the service at `endpoint`.

    `resolve`, if given, is called for a fresh endpoint whenever the socket is replaced (after a
    timeout), so a client found through the hub follows a daemon that restarted elsewhere.
    A Client may be shared between threads; calls are serialised.
    `spin`: how long to busy-wait for a fast service's reply before blocking, in seconds (see
    ReplySpin; 0: never; default: $PODIUM_SPIN_US microseconds, else 200).
    """

    def __init__(self, endpoint: str | None = None, *, service: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, retries: int = 2,
                 curve: ClientCurve | None = None, context: zmq.Context | None = None,
                 resolve: Callable[[], str] | None = None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 spin: float | None = None) -> None:
        if endpoint is None and resolve is None:
            raise ValueError("Client needs an endpoint or a resolve function")
        self.service = service or endpoint or "service"
        self.timeout = timeout
        self.retries = retries
        self.curve = curve
        self.context = context or zmq.Context.instance()
        self.max_message_bytes = max_message_bytes
        self.reply_spin = ReplySpin(default_spin() if spin is None else spin)
        self._resolve = resolve
        self.endpoint = endpoint
        self.stale_replies = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._idempotent: set[str] = set()
        self._socket: zmq.Socket | None = None
        self._rcvtimeo = -1  # the socket's receive timeout in ms, as last set (-1: zmq's default)
        self._monitor: zmq.Socket | None = None  # until the socket's first handshake

    # -- socket ----------------------------------------------------------------------------------
    def _connect(self) -> zmq.Socket:
        if self._socket is None:
            if self._resolve is not None:
                self.endpoint = self._resolve()
            sock = self.context.socket(zmq.DEALER)
            sock.linger = 0
            sock.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
            if self.curve:
                try:
                    self.curve.apply(sock)
                except zmq.ZMQError as exc:  # a key that is not 40 Z85 characters
                    sock.close(linger=0)
                    raise SecurityConfigError(f"{self.service}: unusable CurveZMQ key for "
                                              f"{self.endpoint}: {exc}") from None
            # zmq retries a refused handshake silently: only its socket monitor says that the keys,
            # not the network, are wrong, so watch the first handshake and report it at once.
            self._monitor = sock.get_monitor_socket(HANDSHAKE_EVENTS)
            sock.connect(self.endpoint)
            self._socket, self._rcvtimeo = sock, -1
        return self._socket

    def _stop_monitor(self) -> None:
        if self._monitor is not None:
            if self._socket is not None:
                self._socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None

    def _reset(self) -> None:
        self._stop_monitor()
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def _await_handshake(self, sock: zmq.Socket, deadline: float) -> None:
        """Wait until a reply is readable or the handshake's outcome is known (first call only);
        AuthenticationFailed naming the endpoint when the server refused this client."""
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        while self._monitor is not None:
            ready = dict(poller.poll(max(0, int((deadline - time.time()) * 1000))))
            if not ready:
                return  # the deadline: the receive below times out as usual
            if self._monitor in ready:
                event = zmq.utils.monitor.recv_monitor_message(self._monitor)
                if event["event"] & HANDSHAKE_FAILED:
                    message = self._handshake_failure(event["event"], event["value"])
                    self._reset()
                    raise AuthenticationFailed(message)
                self._stop_monitor()  # handshake succeeded: the fast path from now on
            elif sock in ready:
                return

    def _handshake_failure(self, event: int, value: int) -> str:
        where = f"{self.service}: the handshake with {self.endpoint} failed"
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return (f"{where}: the server refused this client's public key (ZAP status {value}); add "
                    "this client's .key file to the server's allow-list (--allow)")
        # zmq gives no detail for a mechanism mismatch, a wrong server key, or a peer that closes
        # the connection during the handshake (not a ZeroMQ service at all): name what is likely.
        if self.curve is None:
            return (f"{where}: the server requires CurveZMQ keys and this client has none (pass "
                    "--keys and --hub-key, or set PODIUM_KEYS and PODIUM_HUB_KEY), or the peer is "
                    "not a ZeroMQ service")
        return (f"{where}: the server's public key this client was given does not match the server's "
                "own, or the server is not secured with CurveZMQ")

    def close(self) -> None:
        with self._lock:
            self._reset()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls -----------------------------------------------------------------------------------
    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `method(*args, **kwargs)` with the client's default timeout."""
        return self.request(method, args, kwargs)

    def request(self, method: str, args: tuple | list = (), kwargs: Mapping[str, Any] | None = None, *,
                timeout: float | None = None, idempotent: bool | None = None) -> Any:
        """Call with explicit options. `timeout` is per attempt; idempotent calls get `retries` more."""
        timeout = self.timeout if timeout is None else timeout
        if idempotent is None:
            idempotent = method in self._idempotent
        attempts = 1 + (self.retries if idempotent else 0)
        body = {"args": list(args), "kwargs": dict(kwargs or {})}
        with self._lock:
            for attempt in range(1, attempts + 1):
                try:
                    return self._collect(self._send(method, body, timeout))
                except CallTimeout:
                    if attempt == attempts:
                        raise
                    log.info("%s.%s timed out; retrying (attempt %d of %d)", self.service, method,
                             attempt + 1, attempts)
        raise AssertionError("unreachable")

    def _send(self, method: str, body: dict, timeout: float) -> _Pending:
        """Send one call; what `_collect` needs to wait for its reply."""
        sock = self._connect()
        req_id = next(self._ids)
        deadline = time.time() + timeout
        frames = wire.encode(wire.Message(wire.CALL, req_id, method, deadline, body))
        try:
            send_frames(sock, frames)
        except zmq.ZMQError as exc:
            self._reset()
            raise CallTimeout(f"{self.service}.{method}: could not send to {self.endpoint}: {exc}") from exc
        return _Pending(sock, method, req_id, deadline, timeout)

    def _collect(self, pending: _Pending) -> Any:
        sock, method, req_id, deadline, timeout = pending
        if self._monitor is not None:
            self._await_handshake(sock, deadline)
        window, started = self.reply_spin.next_window(), time.perf_counter()
        while True:
            self.reply_spin.wait(sock, window, deadline)
            # A blocking receive with a timeout costs less than zmq.poll + receive on this hot path.
            # The option is set only when it changes: pyzmq's attribute setter costs ~4 us a call,
            # setsockopt ~1 us, and a call's wait is the same to the millisecond most of the time.
            wait_ms = max(1, int((deadline - time.time()) * 1000))
            if wait_ms != self._rcvtimeo:
                sock.setsockopt(_RCVTIMEO, wait_ms)
                self._rcvtimeo = wait_ms
            try:
                reply = self._receive(sock)
            except zmq.Again:
                self._reset()
                self.reply_spin.observe(timeout, window)
                raise CallTimeout(f"{self.service}.{method}: no reply from {self.endpoint} within "
                                  f"{timeout:g} s (is the service running?)") from None
            if reply is None or reply.id != req_id:
                self.stale_replies += 1
                continue
            self.reply_spin.observe(time.perf_counter() - started, window)
            if reply.kind == wire.ERROR:
                raise self._remote_error(method, reply.body)
            return reply.body

    def _receive(self, sock: zmq.Socket) -> wire.Message | None:
        try:
            return wire.decode(recv_frames(sock))
        except WireError:
            log.warning("%s: discarded a malformed reply", self.service)
            return None

    def _remote_error(self, method: str, body: Any) -> RemoteError:
        if not isinstance(body, dict):
            body = {"type": "WireError", "message": f"malformed error reply: {body!r}"}
        remote_type = str(body.get("type", "Exception"))
        cls = remote_error_class(remote_type)
        return cls(str(body.get("message", "")), remote_type=remote_type, service=self.service,
                   method=method, remote_traceback=body.get("traceback"))

    # -- conveniences ----------------------------------------------------------------------------
    def ping(self, timeout: float = 1.0) -> bool:
        """True when the service answers within timeout."""
        try:
            return self.request(RESERVED_PREFIX + "ping", timeout=timeout) == "pong"
        except PodiumError:
            return False

    def describe(self) -> dict[str, Any]:
        """The service's methods; also teaches this client which methods are idempotent."""
        info = self.request(RESERVED_PREFIX + "describe", idempotent=True)
        self._idempotent = {n for n, m in info["methods"].items() if m["idempotent"]}
        return info

    def stats(self) -> dict[str, int]:
        return self.request(RESERVED_PREFIX + "stats", idempotent=True)

    def proxy(self) -> Proxy:
        """An object whose attributes call the service's methods: `client.proxy().step(action)`."""
        return Proxy(self, self.describe())


class Proxy:
    """Attribute access -> remote call. Built from the service's own description."""

    def __init__(self, client: Client, description: dict[str, Any]) -> None:
        self._client = client
        self._methods = description["methods"]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in self._methods:
            raise UnknownMethod(f"service {self._client.service!r} has no method {name!r}")
        return lambda *args, **kwargs: self._client.request(name, args, kwargs)

    def __dir__(self) -> list[str]:
        return sorted(self._methods)
