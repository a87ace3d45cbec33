"""The coverage-guided fuzz target (tests/fuzz/wire_decode.py) on its committed seed corpus: every seed
is a valid message that decodes, and the target's one-input function passes on each of them and on
a few hostile variants. atheris is not needed; the fuzzer itself runs by hand (docs/protocol.md,
"Coverage-guided fuzzing")."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from control.bus import wire

ROOT = Path(__file__).resolve().parents[3]
TARGET = ROOT / "tests" / "fuzz" / "wire_decode.py"


def load_target():
    spec = importlib.util.spec_from_file_location("podium_fuzz_wire_decode", TARGET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


target = load_target()
SEEDS = sorted(target.CORPUS.iterdir())


def test_corpus_is_small_and_present():
    assert 10 <= len(SEEDS) < 50
    assert sum(p.stat().st_size for p in SEEDS) < 200 * 1024


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_passes_the_target(path: Path):
    data = path.read_bytes()
    target.one_input(data)  # raises on anything but a documented error (none for a valid seed)
    message = wire.decode(target.split(data))  # a seed is valid: the fuzzer starts inside
    assert message.kind in wire.KINDS


def test_seeds_match_what_the_encoder_makes_now():
    """The committed seeds are `--make-corpus`'s output: regenerate them when the wire changes."""
    assert {p.name: p.read_bytes() for p in SEEDS} == target.seeds()


@pytest.mark.parametrize("path", SEEDS[:8], ids=lambda p: p.name)
def test_mangled_seeds_raise_only_documented_errors(path: Path):
    data = path.read_bytes()
    variants = [b"", data[:1], data[: len(data) // 2], data + b"\x00", bytes([data[0] ^ 4]) + data[1:],
                bytes([data[0] ^ 1]) + data[1:], data[:-1] + bytes([data[-1] ^ 0xFF])]
    variants += [data[:i] + bytes([data[i] ^ 0x80]) + data[i + 1:] for i in range(1, len(data), 7)]
    for variant in variants:
        target.TestOneInput(variant)  # PodiumError is swallowed; anything else fails the test


def test_split_inverts_join():
    frames = [b"head", b"a", b"", b"bc"]
    assert target.split(target.join(frames)) == frames
    assert [bytes(f.buffer) for f in target.split(target.join(frames, as_zmq=True))] == frames
    assert target.split(b"") == [b""]
