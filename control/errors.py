"""Exceptions raised by podium's bus.

Every failure a caller can see is one of these, so `except PodiumError` catches all of them. Errors
raised inside a remote method come back as a `RemoteError` subclass that also derives from the
remote exception's builtin type when there is one, so `except ValueError` works across the bus.
"""
from __future__ import annotations

import builtins


class PodiumError(Exception):
    """Base class of every podium error."""


class WireError(PodiumError):
    """A message could not be encoded or decoded (malformed, wrong types, bad frames)."""


class UnsupportedVersion(WireError):
    """A message carried a protocol version this side does not speak."""


class MessageTooLarge(WireError):
    """A message exceeded the configured size limit."""


class InternalError(PodiumError):
    """The server failed while handling a message, outside the called method (a bug in the server,
    or it ran out of memory); it went on serving."""


class InvalidOption(PodiumError, ValueError):
    """An option given to podium's API, or through an environment variable, is out of range or
    unreadable."""


class RegistryFull(PodiumError):
    """The hub already tracks as many services as it allows; no new name can register."""


class UnknownMethod(PodiumError, AttributeError):
    """The service has no public method of that name."""


class DeadlineExceeded(PodiumError, TimeoutError):
    """The server received a call whose deadline had already passed and did not run it."""


class CallTimeout(PodiumError, TimeoutError):
    """No reply arrived within the call's deadline."""


class ServiceNotFound(PodiumError, LookupError):
    """The hub knows no live service of that name."""


class InsecureBindError(PodiumError):
    """Refused to bind a non-loopback address without CurveZMQ keys."""


class SecurityConfigError(PodiumError):
    """Key files are missing, unreadable or malformed."""


class AuthenticationFailed(PodiumError, ConnectionRefusedError):
    """The CurveZMQ handshake with a server failed: wrong or missing keys (zmq's socket monitor)."""


class RemoteError(PodiumError):
    """An exception raised by the remote method; `remote_type` names its class on the server."""

    def __init__(self, message: str, *, remote_type: str, service: str | None = None,
                 method: str | None = None, remote_traceback: str | None = None) -> None:
        super().__init__(message)
        self.remote_type = remote_type
        self.service = service
        self.method = method
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:  # KeyError's str() would quote the message: keep it plain.
        where = f"{self.service}.{self.method}" if self.service else self.method
        return f"{self.remote_type} in {where}: {self.args[0]}"


_remote_classes: dict[str, type[RemoteError]] = {}


def podium_error_class(name: str) -> type[PodiumError] | None:
    """The PodiumError subclass called `name`, wherever it is defined (so errors of the phone
    contract or the fleet travel by name too), or None. RemoteError's own family is skipped."""
    stack = [PodiumError]
    while stack:
        cls = stack.pop()
        if cls.__name__ == name and not issubclass(cls, RemoteError):
            return cls
        stack.extend(cls.__subclasses__())
    return None


def remote_error_class(remote_type: str) -> type[RemoteError]:
    """The local class for a remote exception type name, e.g. 'ValueError' -> RemoteValueError.

    Builtin and podium exception names give a class deriving from both RemoteError and that type;
    any other name (a user's own exception, 'mymod.MyError') gives plain RemoteError.
    """
    if remote_type in _remote_classes:
        return _remote_classes[remote_type]
    base = podium_error_class(remote_type) or getattr(builtins, remote_type, None)
    if base is None:  # not cached: the class may be defined by a module imported later
        return RemoteError
    cls: type[RemoteError] = RemoteError
    if isinstance(base, type) and issubclass(base, Exception) and base is not Exception:
        try:
            cls = type(f"Remote{remote_type}", (RemoteError, base), {"__module__": __name__})
        except TypeError:  # C-level layout conflict (OSError and kin): plain RemoteError it is
            cls = RemoteError
    _remote_classes[remote_type] = cls
    return cls


def _is_private(cls: type) -> bool:
    """A class not meant to be named from outside: a part of its module path or qualified name
    starts with one underscore (numpy's `numpy._core._exceptions._ArrayMemoryError`, say)."""
    parts = [*cls.__module__.split("."), *cls.__qualname__.split(".")]
    return any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts)


def error_type_name(exc: BaseException) -> str:
    """The name a server sends for an exception: bare for builtins and podium's, else qualified.
    A private class is named by its nearest public ancestor (numpy's private MemoryError subclass
    travels as `MemoryError`), so that the client can map it to a class it knows."""
    if isinstance(exc, RemoteError):
        return exc.remote_type
    for cls in type(exc).__mro__:
        if cls.__module__ == "builtins" or issubclass(cls, PodiumError):
            return cls.__name__
        if not _is_private(cls):
            return f"{cls.__module__}.{cls.__qualname__}"
    return "Exception"
