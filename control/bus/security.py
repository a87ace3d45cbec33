"""Where podium may listen, and CurveZMQ (Ironhouse) when it listens beyond loopback.

Ironhouse: the server proves itself with its key pair, and accepts only clients whose public keys
lie in an allow-list directory. Keys are zmq's own certificate files (`zmq.auth`), made by
`podium keys`, with the secret file readable by its owner alone.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
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
        keys = KeyPair.load_secret(secret_file)
        allowed = Path(allowed_clients)
        if not allowed.is_dir():
            raise SecurityConfigError(f"client allow-list {allowed} is not a directory of .key files")
        return cls(keys, allowed)

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
