"""Where podium may listen, and CurveZMQ (Ironhouse) when it listens beyond loopback.

Ironhouse: the server proves itself with its key pair, and accepts only clients whose public keys
lie in an allow-list directory. Keys are zmq's own certificate files (`zmq.auth`), made by
`podium keys`, with the secret file readable by its owner alone.

A fleet member holds `FleetKeys`: its own key pair, the hub's public key and (to serve) the
allow-list. A daemon publishes its public key in its hub record, so a client that trusts the hub
finds every service's key with its address. Every command and Python client also reads them from
PODIUM_KEYS, PODIUM_HUB_KEY and PODIUM_ALLOW, which is how `podium up` hands them to its daemons.
"""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
import zmq.utils.z85
from zmq.auth.thread import ThreadAuthenticator

from control.errors import InsecureBindError, SecurityConfigError

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_local_endpoint(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback address."""
    transport, _, rest = endpoint.partition("://")
    if transport in ("ipc", "inproc"):
        return True
    if transport != "tcp":
        return False
    host = rest.rsplit(":", 1)[0].strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # '*', an interface name or a host name: not provably loopback
        return False


def check_bind(endpoint: str, curve: ServerCurve | None) -> None:
    """Refuse to listen on a non-loopback address without keys."""
    if curve is None and not is_local_endpoint(endpoint):
        raise InsecureBindError(
            f"refusing to bind {endpoint} without CurveZMQ keys: anyone on that network could "
            "drive your devices. Bind 127.0.0.1, or create keys with `podium keys` and pass them "
            "(server key pair plus an allow-list directory of client public keys).")


@dataclass(frozen=True)
class KeyPair:
    public: bytes
    secret: bytes | None

    @classmethod
    def load(cls, path: str | os.PathLike) -> KeyPair:
        """Load a key pair from a `.key_secret` file (or only the public half from a `.key`)."""
        path = Path(path)
        if not path.is_file():
            raise SecurityConfigError(f"key file {path} does not exist")
        try:
            public, secret = zmq.auth.load_certificate(str(path))
        except (ValueError, OSError) as exc:
            raise SecurityConfigError(f"key file {path} is not a zmq certificate: {exc}") from exc
        return cls(public, secret)

    @classmethod
    def load_secret(cls, path: str | os.PathLike) -> KeyPair:
        """Load a key pair that must include its secret half (a .key_secret file)."""
        keys = cls.load(path)
        if keys.secret is None:
            raise SecurityConfigError(f"{path} holds no secret key: pass the .key_secret file")
        return keys

    def apply(self, socket: zmq.Socket) -> None:
        """Give `socket` this key pair."""
        socket.curve_secretkey = self.secret
        socket.curve_publickey = self.public


def create_keypair(directory: str | os.PathLike, name: str) -> tuple[Path, Path]:
    """Write NAME.key (public) and NAME.key_secret into directory, both mode 0600."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = (Path(p) for p in zmq.auth.create_certificates(str(directory), name))
    for path in (public, secret):
        os.chmod(path, 0o600)
    return public, secret


@dataclass(frozen=True)
class ServerCurve:
    """A server's key pair plus the directory of client public keys it accepts."""

    keys: KeyPair
    allowed_clients: Path

    @classmethod
    def from_files(cls, secret_file: str | os.PathLike, allowed_clients: str | os.PathLike) -> ServerCurve:
        return FleetKeys.from_files(secret_file, allow=allowed_clients).server_curve()

    def start_authenticator(self, context: zmq.Context) -> ThreadAuthenticator:
        auth = ThreadAuthenticator(context)
        auth.start()
        auth.configure_curve(domain="*", location=str(self.allowed_clients))
        return auth

    def apply(self, socket: zmq.Socket) -> None:
        self.keys.apply(socket)
        socket.curve_server = True


@dataclass(frozen=True)
class ClientCurve:
    """A client's key pair plus the public key of the server it talks to."""

    keys: KeyPair
    server_public: bytes

    @classmethod
    def from_files(cls, secret_file: str | os.PathLike, server_public_file: str | os.PathLike) -> ClientCurve:
        return cls(KeyPair.load_secret(secret_file), KeyPair.load(server_public_file).public)

    def apply(self, socket: zmq.Socket) -> None:
        self.keys.apply(socket)
        socket.curve_serverkey = self.server_public


KEYS_ENV, HUB_KEY_ENV, ALLOW_ENV = "PODIUM_KEYS", "PODIUM_HUB_KEY", "PODIUM_ALLOW"
BIND_ENV = "PODIUM_BIND"          # where a daemon serves, when not told (how `podium up` says it)
DEFAULT_BIND = "tcp://127.0.0.1:*"
Z85_KEY_LENGTH = 40  # a 32-byte CurveZMQ key in Z85 text


def is_z85_key(text: object) -> bool:
    """True for a CurveZMQ key in Z85 text: 40 characters that decode to 32 bytes."""
    if type(text) is not str or len(text) != Z85_KEY_LENGTH:
        return False
    try:
        return len(zmq.utils.z85.decode(text.encode("ascii"))) == 32
    except (ValueError, KeyError, UnicodeEncodeError):
        return False


@dataclass(frozen=True)
class FleetKeys:
    """One fleet member's keys: its own pair, the hub's public key, and the allow-list it serves to.

    A client needs `keys` and `hub_public`; a daemon also needs `allow` (who may call it)."""

    keys: KeyPair
    hub_public: bytes | None = None
    allow: Path | None = None

    @classmethod
    def from_files(cls, keys: str | os.PathLike | None = None, hub_key: str | os.PathLike | None = None,
                   allow: str | os.PathLike | None = None) -> FleetKeys | None:
        """None when no file is given; SecurityConfigError naming what is missing or unreadable."""
        if keys is None:
            if hub_key is not None or allow is not None:
                raise SecurityConfigError(
                    "a hub key or an allow-list was given without this member's own key pair: pass "
                    f"--keys FILE.key_secret (or set {KEYS_ENV})")
            return None
        own = KeyPair.load_secret(keys)
        allowed = Path(allow) if allow is not None else None
        if allowed is not None and not allowed.is_dir():
            raise SecurityConfigError(f"client allow-list {allowed} is not a directory of .key files")
        hub_public = KeyPair.load(hub_key).public if hub_key is not None else None
        return cls(own, hub_public, allowed)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FleetKeys | None:
        """From PODIUM_KEYS, PODIUM_HUB_KEY and PODIUM_ALLOW; None when PODIUM_KEYS is unset."""
        environ = os.environ if environ is None else environ
        return cls.from_files(environ.get(KEYS_ENV) or None, environ.get(HUB_KEY_ENV) or None,
                              environ.get(ALLOW_ENV) or None)

    @property
    def public_text(self) -> str:
        """This member's public key as Z85 text (what its hub record carries)."""
        return self.keys.public.decode("ascii")

    def server_curve(self) -> ServerCurve:
        if self.allow is None:
            raise SecurityConfigError(
                "serving with CurveZMQ keys needs an allow-list of client public keys: pass --allow DIR "
                f"(or set {ALLOW_ENV})")
        return ServerCurve(self.keys, self.allow)

    def hub_curve(self) -> ClientCurve:
        if self.hub_public is None:
            raise SecurityConfigError(f"no hub public key: pass --hub-key FILE.key (or set {HUB_KEY_ENV})")
        return ClientCurve(self.keys, self.hub_public)

    def client_curve(self, server_public: bytes | str) -> ClientCurve:
        if isinstance(server_public, str):
            server_public = server_public.encode("ascii")
        return ClientCurve(self.keys, server_public)


def curve_for_service(keys: FleetKeys | None, record: Mapping, name: str) -> ClientCurve | None:
    """The CurveZMQ settings to call the service of hub `record`: none for an open service, its
    own public key (from the trusted hub) for a secured one; an error when keys are missing."""
    server_key = record.get("curve_key")
    if server_key is None:
        return None
    if keys is None:
        raise SecurityConfigError(
            f"service {name!r} at {record.get('endpoint')} requires CurveZMQ: pass this client's key "
            f"pair (--keys FILE.key_secret and --hub-key, or set {KEYS_ENV} and {HUB_KEY_ENV})")
    return keys.client_curve(server_key)
