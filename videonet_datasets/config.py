"""One way to configure a run: a dataclass, a YAML file, command-line flags, ``key=value`` lists.

Every configurable job (fine-tuning, the training-data build, the synthetic world, the demo's
pretraining) is one dataclass whose fields are its settings, declared with :func:`setting` (a
default, a help text, optionally the command-line flag).  This module turns the outside world
into such a dataclass, strictly:

* :func:`load_config_file` - a YAML file (``--config FILE.yaml``); nested dataclasses are nested
  mappings.  An unknown key (a typo such as ``lm_lr``) fails with the file and the key, and every
  value is converted to the field's type (PyYAML reads ``5e-6``, without a dot, as a *string*);
* :func:`add_flags` / :func:`flag_values` - argparse flags generated from the fields' metadata
  (nested fields included), and the values the user actually gave, as a nested mapping that
  overrides the YAML file's;
* :func:`config_from_dict` - a (nested) mapping -> the dataclass, checked the same way;
* :func:`split_key_values` / :func:`parse_key_values` - the one parser of ``key=value,...``
  option values (``--tiny_model_spec``, ``--web-mix``, ``--round``, ``VIDEONET_PRESET``),
  typed by a dataclass's fields when one is given;
* :func:`config_to_dict` / :func:`dump_config` - back to YAML that loads to the same config.

Errors are :class:`ConfigError` (a ``ValueError``) naming the file or flag and the setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "ConfigError",
    "add_flags",
    "coerce",
    "config_from_dict",
    "config_to_dict",
    "dump_config",
    "field_types",
    "flag_values",
    "load_config_file",
    "merge_settings",
    "parse_key_values",
    "read_config_file",
    "setting",
    "split_key_values",
]


class ConfigError(ValueError):
    """A setting is wrong; the message names the file/flag and the setting."""


def setting(default: Any = MISSING, help: str = "", **metadata: Any) -> Any:
    """A dataclass field with its help text (and ``flag=``, ``group=``, ``action=``, ``choices=``,
    ``metavar=``, ``parse=`` - a function of the flag's text - for :func:`add_flags`).

    Mutable defaults (lists, dicts, dataclass instances) are copied per instance."""
    meta = {"help": help, **metadata}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda d=default: _copy(d), metadata=meta)
    return field(default=default, metadata=meta)


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return dataclasses.replace(value)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved type hint of a dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0], type(None) in args
    return hint, False


def coerce(name: str, value: Any, hint: Any, where: str) -> Any:
    """``value`` (from YAML, a flag or a ``key=value`` item) as the field's type, or ConfigError
    naming ``where`` and ``name``."""
    hint, optional = _strip_optional(hint)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: {name}: a value is required")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    try:
        if dataclasses.is_dataclass(hint):
            if isinstance(value, hint):
                return value
            if not isinstance(value, Mapping):
                raise ValueError(f"must be a mapping of {hint.__name__} settings")
            return config_from_dict(hint, value, f"{where}: {name}")
        if origin is Literal:
            if value not in args:
                raise ValueError(f"must be one of {list(args)}")
            return value
        if origin in (list, tuple):
            items = (
                value
                if isinstance(value, (list, tuple))
                else [s.strip() for s in str(value).split(",") if s.strip()]
            )
            if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[str, int]: one type per place
                if len(items) != len(args):
                    raise ValueError(f"must have {len(args)} items")
                return tuple(coerce(name, v, h, where) for v, h in zip(items, args))
            typed = [coerce(name, v, args[0] if args else Any, where) for v in items]
            return typed if origin is list else tuple(typed)
        if origin is dict or hint is dict:
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, Mapping):
                raise ValueError("must be a mapping")
            return dict(value)
        if hint is bool:
            if isinstance(value, bool):
                return value
            raise ValueError("must be true or false")
        if hint is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("must be an integer")
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError("must be a number")
            return float(value)  # also "5e-6", which YAML 1.1 leaves as a string
        if hint is str:
            if isinstance(value, (dict, list)):
                raise ValueError("must be a string")
            return str(value)
        if hint is Path:
            return Path(value)
        if hint is Any:
            return value
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {name}: {value!r} {e}") from e
    raise ConfigError(f"{where}: {name}: unsupported setting type {hint}")


def config_from_dict(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """``cls(**data)`` with every key checked and every value converted (nested mappings for
    nested dataclasses); ConfigError on an unknown key or a bad value."""
    hints = field_types(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {unknown}; known: {sorted(hints)}")
    values = {k: coerce(k, v, hints[k], where) for k, v in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{where}: {e}") from e


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML file's mapping of settings, unchecked (:func:`config_from_dict` checks it)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def load_config_file(cls: type, path: str | Path) -> dict[str, Any]:
    """The settings of a YAML file, checked against the fields of ``cls`` and typed (nested
    dataclass settings become instances)."""
    data = read_config_file(path)
    hints = field_types(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {unknown}; see `--help` for the valid ones")
    return {k: coerce(k, v, hints[k], str(path)) for k, v in data.items()}


def merge_settings(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` into ``base`` (in place, nested mappings merged key by key); returns ``base``."""
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_settings(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
    return base


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain data (nested dicts, lists, strings for paths) that :func:`config_from_dict` reads back."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def dump_config(config: Any, path: str | Path) -> Path:
    """Write the settings as YAML that loads back to the same config."""
    from videonet_datasets.fsutil import atomic_write_text

    return atomic_write_text(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))


# ---------------------------------------------------------------------------- key=value lists


def split_key_values(
    text: str, *, where: str, form: str = "KEY=VALUE", sep: str | None = ","
) -> list[tuple[str, str]]:
    """``"a=1, b=x"`` -> ``[("a", "1"), ("b", "x")]`` (stripped; empty items skipped).

    ``sep=None`` reads ``text`` as one item (a value that may hold commas, such as a JSON list).
    An item without ``=`` or with an empty key raises ConfigError: ``WHERE: 'item' is not FORM``.
    """
    items = [text] if sep is None else text.split(sep)
    out = []
    for item in items:
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"{where}: {item.strip()!r} is not {form}")
        out.append((key.strip(), value.strip()))
    return out


def _scalar(text: str) -> Any:
    """A command-line value as YAML reads it: ``3`` int, ``0.5`` float, ``true`` bool, ``null``/``none``
    None, ``[1, 2]`` a list; anything else the string itself."""
    if text.lower() in ("none", "null", "~"):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_key_values(
    text: str, cls: type, *, where: str, sep: str | None = ",", form: str = "KEY=VALUE"
) -> dict[str, Any]:
    """``key=value`` items as typed settings of the dataclass ``cls`` (unknown keys refused)."""
    hints = field_types(cls)
    out: dict[str, Any] = {}
    for key, raw in split_key_values(text, where=where, sep=sep, form=form):
        if key not in hints:
            raise ConfigError(f"{where}: {key!r} is not a {cls.__name__} setting ({sorted(hints)})")
        out[key] = coerce(key, _scalar(raw), hints[key], where)
    return out


# ---------------------------------------------------------------------------- command-line flags


def _leaves(cls: type, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dataclasses.Field, Any]]:
    """(path, field, hint) of every field that has a flag, nested dataclasses included."""
    out = []
    hints = field_types(cls)
    for f in dataclasses.fields(cls):
        hint, _ = _strip_optional(hints[f.name])
        if "flag" in f.metadata:
            out.append(((*prefix, f.name), f, hints[f.name]))
        elif dataclasses.is_dataclass(hint):
            out.extend(_leaves(hint, (*prefix, f.name)))
    return out


def add_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    groups: Mapping[str, argparse._ArgumentGroup] | None = None,
) -> None:
    """An argparse option per field of ``cls`` (nested too) whose metadata names a ``flag``.

    Options have no argparse default (``SUPPRESS``): :func:`flag_values` returns only what was
    given, so the dataclass stays the one place the defaults are written.  ``action="store_false"``
    (or ``store_true``) metadata makes a switch; ``choices`` come from ``Literal`` types or metadata;
    ``group`` metadata picks one of ``groups``."""
    for path, f, hint in _leaves(cls):
        meta = f.metadata
        flags = [meta["flag"]] if isinstance(meta["flag"], str) else list(meta["flag"])
        target = (groups or {}).get(meta.get("group", ""), parser)
        kwargs: dict[str, Any] = {
            "dest": "__".join(path),
            "default": argparse.SUPPRESS,
            "help": meta.get("help"),
        }
        if meta.get("action"):
            kwargs["action"] = meta["action"]
        else:
            base, _ = _strip_optional(hint)
            if typing.get_origin(base) is Literal:
                kwargs["choices"] = list(typing.get_args(base))
            if "choices" in meta:
                kwargs["choices"] = list(meta["choices"])
            if "choices" not in kwargs:
                kwargs["metavar"] = meta.get("metavar") or flags[0].lstrip("-").upper().replace("-", "_")
        target.add_argument(*flags, **kwargs)


def flag_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The flags of :func:`add_flags` the user gave, as a nested mapping of ``cls`` settings
    (strings from the command line converted by :func:`coerce`)."""
    out: dict[str, Any] = {}
    for path, f, hint in _leaves(cls):
        dest = "__".join(path)
        if not hasattr(args, dest):
            continue
        value = getattr(args, dest)
        if isinstance(value, str) and "parse" in f.metadata:  # a flag with its own syntax (128x96)
            value = f.metadata["parse"](value)
        elif isinstance(value, str) and not f.metadata.get("action"):
            value = coerce(path[-1], value, hint, f.metadata["flag"])
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out
