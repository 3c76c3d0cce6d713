"""Typed, frozen config dataclasses serialised as YAML/JSON.

Every config in xdub is a `@dataclass(frozen=True)`; this module turns them into dicts and back
with strict checking (unknown keys raise, types are checked), and merges a YAML file that names
a `base:` file with only the keys that change. Imports: stdlib, yaml, xdub.atomic, xdub.errors.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from xdub.atomic import write_json_atomic, write_text_atomic
from xdub.errors import ConfigError

T = TypeVar("T")


def to_dict(cfg: Any) -> dict[str, Any]:
    """Dataclass (nested) -> plain dict of JSON-friendly values."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = [to_dict(v) if dataclasses.is_dataclass(v) else v for v in value]
        out[f.name] = value
    return out


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check/convert one value against a field annotation (subset of typing we use)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{where}: {value!r} matches none of {args}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(annotation):
        if dataclasses.is_dataclass(value):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(annotation, value, where)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str | None = None) -> T:
    """Build dataclass `cls` from a dict; unknown keys and wrong types raise ConfigError.

    Keys a class lists in `RETIRED_KEYS` (fields deleted from its schema) are dropped, so the
    files written before the deletion still load."""
    where = where or cls.__name__
    retired = getattr(cls, "RETIRED_KEYS", frozenset())
    data = {k: v for k, v in data.items() if k not in retired}
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None


def replace(cfg: T, **changes: Any) -> T:
    """Copy of a frozen config with some fields changed (checked like from_dict)."""
    return from_dict(type(cfg), {**to_dict(cfg), **changes})


def _read_mapping(path: Path) -> dict[str, Any]:
    import yaml  # local import: only needed when reading files

    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    base = data.pop("base", None)
    if base is not None:
        data = deep_merge(_read_mapping((path.parent / base).resolve()), data)
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; `override` wins."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load(cls: type[T], path: str | Path) -> T:
    """Read a YAML/JSON file (with optional `base:` chain) into dataclass `cls`."""
    return from_dict(cls, _read_mapping(Path(path)), where=str(path))


def save(cfg: Any, path: str | Path) -> None:
    """Write a config as YAML (.yaml/.yml) or JSON (anything else), atomically."""
    path = Path(path)
    data = to_dict(cfg)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        write_text_atomic(path, yaml.safe_dump(data, sort_keys=False))
    else:
        write_json_atomic(path, data)
