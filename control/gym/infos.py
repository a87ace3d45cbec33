"""Vector-env infos in gymnasium's columnar layout, built where the envs live.

gymnasium 1.x vector envs return infos as one dict: per key an array over envs plus a boolean mask
`_key` saying which envs reported it. Env daemons build that layout themselves, so a vector step
carries one array per key instead of one small message part per env and key. The only wire
difference: values gymnasium would keep in an object array (strings, odd objects) travel as a
plain list, since object arrays never cross the wire; `to_gymnasium` turns them back.
"""
from __future__ import annotations

from typing import Any

import numpy as np

Infos = dict[str, Any]


def stack_infos(infos: list[dict[str, Any]]) -> Infos:
    """Per-env info dicts -> one columnar dict (gymnasium's `_add_info` layout, wire-safe)."""
    out: Infos = {}
    for i, info in enumerate(infos):
        _add(out, info, i, len(infos))
    return out


def _add(out: Infos, info: dict[str, Any], i: int, n: int) -> Infos:
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = _add(out.get(key, {}), value, i, n)
        else:
            column = out.get(key)
            if column is None:
                column = _empty_column(value, n)
            try:
                column[i] = value
            except (ValueError, TypeError):  # shape or type differs from env 0's: keep as list
                column = list(column) if isinstance(column, np.ndarray) else column
                column[i] = value
            out[key] = column
        mask = out.get(f"_{key}")
        if mask is None:
            mask = out[f"_{key}"] = np.zeros(n, dtype=np.bool_)
        mask[i] = True
    return out


def _empty_column(value: Any, n: int) -> np.ndarray | list:
    if type(value) in (int, float, bool) or isinstance(value, (np.number, np.bool_)):
        return np.zeros(n, dtype=type(value))
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return np.zeros((n, *value.shape), dtype=value.dtype)
    return [None] * n


def concat_infos(parts: list[tuple[Infos, int]]) -> Infos:
    """Join the columnar infos of several daemons (each with its env count) along the env axis."""
    keys = list(dict.fromkeys(k for infos, _ in parts for k in infos))
    out: Infos = {}
    for key in keys:
        columns = [(infos.get(key), n) for infos, n in parts]
        if any(isinstance(c, dict) for c, _ in columns):
            out[key] = concat_infos([(c or {}, n) for c, n in columns])
            continue
        template = next(c for c, _ in columns if c is not None)
        filled = [c if c is not None else _filler(template, n) for c, n in columns]
        if all(isinstance(c, np.ndarray) for c in filled):
            out[key] = np.concatenate(filled)
        else:
            out[key] = [v for c in filled for v in c]
    return out


def _filler(template: np.ndarray | list, n: int) -> np.ndarray | list:
    if isinstance(template, np.ndarray):
        return np.zeros((n, *template.shape[1:]), dtype=template.dtype)
    return [None] * n


def to_gymnasium(infos: Infos) -> Infos:
    """Wire layout -> exactly gymnasium's: lists become object arrays."""
    out: Infos = {}
    for key, value in infos.items():
        if isinstance(value, dict):
            out[key] = to_gymnasium(value)
        elif isinstance(value, list):
            column = np.empty(len(value), dtype=object)
            column[:] = value
            out[key] = column
        else:
            out[key] = value
    return out


def unstack_infos(infos: Infos, n: int) -> list[dict[str, Any]]:
    """Columnar -> one dict per env, with only the keys that env reported (for SB3)."""
    per_env: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, value in infos.items():
        if key.startswith("_") and key[1:] in infos:
            continue
        mask = infos.get(f"_{key}")
        nested = unstack_infos(value, n) if isinstance(value, dict) else None
        for i in range(n):
            if mask is None or mask[i]:
                per_env[i][key] = nested[i] if nested is not None else value[i]
    return per_env
