"""Render ``config/pmtape.toml`` from the config models: every key, its default and meaning.

``python -m pmtape.config.document`` prints the file; ``--write PATH`` replaces it and
``--check PATH`` exits 1 when it is stale (``make config-doc`` writes it). Loading the result
gives exactly the built-in defaults: every key is a value, except secrets (environment only)
and keys without a default, which appear as comments.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import textwrap
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from pmtape.config.load import ENV_PREFIX, RENAMED_KEYS
from pmtape.config.models import Config

WIDTH = 100
_HEADER = """\
pmtape configuration: every key, its default and what it does.

Generated from src/pmtape/config/models.py by `make config-doc` \
(python -m pmtape.config.document); edit the descriptions there, not here. As shipped, every \
value is the built-in default: change the ones you need, delete the rest if you like.

Precedence: built-in defaults < this file < PMTAPE_* environment < command-line flags. \
The file is --config PATH, else $PMTAPE_CONFIG, else ./config/pmtape.toml. \
Environment names join nested keys with "__" (lists and tables as JSON), e.g.
  PMTAPE_DATA_DIR=/srv/pmtape
  PMTAPE_VENUES__SIM__MARKETS=200
  PMTAPE_WRITER__FLUSH_S=2
  PMTAPE_VENUES__POLYMARKET__TAGS='["crypto"]'
Any key can also be set for one command with --set KEY=VALUE (e.g. --set top_k=20). \
An unknown key in this file or in --set is an error; a PMTAPE_* variable that names no key \
is warned about once and ignored. `pmtape config show` prints the effective result.

Durations are in seconds and named *_s. The older *_secs names ({renamed}) are still read, \
with a warning: rename them.

Credentials never go in this file: set them in the environment (shown below as \
commented-out hints, e.g. PMTAPE_VENUES__KALSHI__API_KEY_ID=...). They are masked in \
`config show`, logs and run manifests.
"""


def render_config_toml() -> str:
    """Return the documented TOML text of the built-in defaults."""
    renamed = ", ".join(sorted(RENAMED_KEYS))
    header = _comment(_HEADER.format(renamed=renamed).rstrip("\n"))
    return "\n".join([header, "", *_section(Config, ())]).rstrip("\n") + "\n"


def iter_keys(model: type[BaseModel] = Config, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """Yield the dotted path of every leaf key of the config model."""
    for name, field in model.model_fields.items():
        sub = _submodel(field)
        if sub is not None:
            yield from iter_keys(sub, (*prefix, name))
        else:
            yield ".".join((*prefix, name))


def _section(model: type[BaseModel], path: tuple[str, ...]) -> Iterator[str]:
    leaves = [(n, f) for n, f in model.model_fields.items() if _submodel(f) is None]
    tables = [(n, f) for n, f in leaves if _is_table(f)]
    if path:
        yield ""
        doc = inspect.cleandoc(model.__doc__ or "").replace("``", "`")
        if doc:
            yield _comment(doc)
        if leaves:
            yield f"[{'.'.join(path)}]"
    for name, field in leaves:
        if (name, field) not in tables:
            yield from _leaf(name, field, path)
    for name, field in tables:
        yield ""
        yield from _describe(field, path, name)
        yield f"[{'.'.join((*path, name))}]"
        for key, value in field.get_default(call_default_factory=True).items():
            yield f"{_key(key)} = {_toml(value)}"
    for name, field in model.model_fields.items():
        sub = _submodel(field)
        if sub is not None:
            yield from _section(sub, (*path, name))


def _leaf(name: str, field: FieldInfo, path: tuple[str, ...]) -> Iterator[str]:
    if _is_secret(field):
        env = ENV_PREFIX + "__".join((*path, name)).upper()
        yield _comment(f"{name}: {_description(field, path, name)}: {env}=...")
        return
    yield from _describe(field, path, name)
    default = field.get_default(call_default_factory=True)
    if default is None:
        yield f"# {name} = ...   (not set by default)"
    else:
        yield f"{name} = {_toml(default)}"


def _describe(field: FieldInfo, path: tuple[str, ...], name: str) -> Iterator[str]:
    facts = _facts(field)
    yield _comment(_description(field, path, name) + (f" [{facts}]" if facts else ""))


def _description(field: FieldInfo, path: tuple[str, ...], name: str) -> str:
    if not field.description:
        raise ValueError(f"{'.'.join((*path, name))} has no description in config/models.py")
    return field.description


def _facts(field: FieldInfo) -> str:
    """Return the bounds or choices of a field, e.g. ``>= 1, <= 500`` or ``"ws" | "rest"``."""
    choices = _choices(field.annotation)
    if choices:
        return " | ".join(_toml(c) for c in choices)
    bounds = []
    for meta in field.metadata:
        if isinstance(meta, Ge):
            bounds.append(f">= {meta.ge}")
        elif isinstance(meta, Gt):
            bounds.append(f"> {meta.gt}")
        elif isinstance(meta, Le):
            bounds.append(f"<= {meta.le}")
        elif isinstance(meta, Lt):
            bounds.append(f"< {meta.lt}")
    return ", ".join(bounds)


def _choices(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return ()


def _submodel(field: FieldInfo) -> type[BaseModel] | None:
    ann = field.annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _is_table(field: FieldInfo) -> bool:
    return typing.get_origin(field.annotation) is dict


def _is_secret(field: FieldInfo) -> bool:
    ann = field.annotation
    args = typing.get_args(ann) if isinstance(ann, types.UnionType) else (ann,)
    return SecretStr in args


def _key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else json.dumps(name)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _comment(text: str) -> str:
    lines = []
    for para in text.splitlines():
        wrapped = textwrap.wrap(para, WIDTH - 2, break_on_hyphens=False) or [""]
        lines += [f"# {line}".rstrip() for line in wrapped]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print, write (--write PATH) or check (--check PATH) the documented config file."""
    parser = argparse.ArgumentParser(prog="python -m pmtape.config.document")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="PATH", help="replace PATH with it")
    group.add_argument("--check", type=Path, metavar="PATH", help="exit 1 if PATH differs")
    args = parser.parse_args(argv)
    text = render_config_toml()
    if args.write is not None:
        args.write.write_text(text, encoding="utf-8")
    elif args.check is not None:
        if args.check.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{args.check} is stale: run `make config-doc`\n")
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
