"""Load the layered configuration: defaults < TOML file < PMTAPE_* env < CLI flags.

Every value remembers where it came from, so a bad one is reported as one line naming the
key and its source (the file, the env variable, or the flag).
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pmtape.config.models import Config
from pmtape.core.errors import ConfigError

ENV_PREFIX = "PMTAPE_"
ENV_CONFIG_PATH = "PMTAPE_CONFIG"
DEFAULT_CONFIG_PATH = Path("config/pmtape.toml")
# Variables that configure the process around pmtape, not the Config model.
_ENV_NOT_CONFIG = {ENV_CONFIG_PATH}
# Durations are named ``*_s``; these older ``*_secs`` names are still read, with a warning.
RENAMED_KEYS = {
    f"{stem}_secs": f"{stem}_s"
    for stem in (
        "confirm_timeout",
        "discovery_interval",
        "flush",
        "log_interval",
        "rolling_period",
        "rotation_period",
        "segment_max",
        "stale_after",
        "state_poll",
        "sticky_grace",
    )
}

Origins = dict[tuple[str, ...], str]
Warn = Callable[[str], None]
_warned: set[str] = set()


def warn_once(message: str) -> None:
    """Print a config warning on stderr, once per process."""
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(f"pmtape: warning: {message}\n")


def default_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """Return $PMTAPE_CONFIG, else ./config/pmtape.toml when it exists, else None."""
    env = os.environ if env is None else env
    if env.get(ENV_CONFIG_PATH):
        return Path(env[ENV_CONFIG_PATH])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def load_config(
    path: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    venues: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    use_default_path: bool = True,
    sets: Mapping[str, Any] | None = None,
    warn: Warn = warn_once,
) -> Config:
    """Build the effective config; raise ConfigError naming the key and its source.

    ``overrides`` come from named flags (``--data-dir``), ``sets`` from ``--set KEY=VALUE``.
    A ``PMTAPE_*`` variable that names no key is warned about and ignored (the environment
    is shared with other tools); an unknown key in the file or a flag is an error.
    """
    env = os.environ if env is None else env
    if path is None and use_default_path:
        path = default_config_path(env)
    data: dict[str, Any] = {}
    origins: Origins = {}
    if path is not None:
        _merge(data, origins, _read_toml(path), (), str(path), warn)
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_CONFIG:
            continue
        keys = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        if not all(keys):
            warn(f"{name}: ignored, not a config variable (nested keys are joined by '__')")
            continue
        keys = _current_names(keys, f"env {name}", warn)
        if not is_known_key(keys):
            warn(f"{name}: ignored, names no config key ({'.'.join(keys)})")
            continue
        _set(data, origins, keys, _env_value(raw), f"env {name}")
    for dotted, value in (overrides or {}).items():
        flag = "--" + dotted.split(".")[-1].replace("_", "-")
        _set(data, origins, tuple(dotted.split(".")), value, f"flag {flag}")
    for dotted, value in (sets or {}).items():
        src = f"--set {dotted}"
        _set(data, origins, _current_names(tuple(dotted.split(".")), src, warn), value, src)
    if venues:
        _restrict_venues(data, origins, venues)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origins)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _env_value(raw: str) -> Any:
    # Lists and tables come as JSON; scalars stay strings and pydantic coerces them.
    if raw[:1] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _merge(
    data: dict[str, Any],
    origins: Origins,
    layer: Mapping[str, Any],
    prefix: tuple[str, ...],
    src: str,
    warn: Warn,
) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping):
            _merge(data, origins, value, (*prefix, key), src, warn)
        else:
            _set(data, origins, _current_names((*prefix, key), src, warn), value, src)


def _current_names(keys: tuple[str, ...], src: str, warn: Warn) -> tuple[str, ...]:
    new = RENAMED_KEYS.get(keys[-1])
    if new is None:
        return keys
    old_dotted = ".".join(keys)
    keys = (*keys[:-1], new)
    warn(f"{old_dotted} is now called {'.'.join(keys)} (from {src}); please rename it")
    return keys


def is_known_key(keys: Sequence[str]) -> bool:
    """Tell whether a dotted path names a key of the Config model (or a key inside a table)."""
    model: type[BaseModel] = Config
    for i, key in enumerate(keys):
        field = model.model_fields.get(key)
        if field is None:
            return False
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
            continue
        # A leaf: a plain value must end the path; a table (dict) takes one more key.
        rest = len(keys) - i - 1
        is_table = getattr(ann, "__origin__", None) is dict
        return rest == 0 or (is_table and rest == 1)
    return False


def _set(
    data: dict[str, Any], origins: Origins, keys: tuple[str, ...], value: Any, src: str
) -> None:
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            dotted = ".".join(keys[: i + 1])
            raise ConfigError(f"{dotted}: is a value, not a table (from {src})")
        node = child
        origins.setdefault(keys[: i + 1], src)
    node[keys[-1]] = value
    origins[keys] = src


def _restrict_venues(data: dict[str, Any], origins: Origins, venues: Sequence[str]) -> None:
    known = list(Config.model_fields["venues"].annotation.model_fields)  # type: ignore[union-attr]
    for name in venues:
        if name not in known:
            raise ConfigError(f"--venue {name}: unknown venue (known: {', '.join(known)})")
    for name in known:
        _set(data, origins, ("venues", name, "enabled"), name in venues, "flag --venue")


def _describe(exc: ValidationError, origins: Origins) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = tuple(str(part) for part in first["loc"])
    dotted = ".".join(loc) or "(top level)"
    src = "defaults"
    for n in range(len(loc), 0, -1):
        if loc[:n] in origins:
            src = origins[loc[:n]]
            break
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{dotted}: {msg} (from {src}){more}"


def redacted_dict(config: Config) -> dict[str, Any]:
    """Return the config as plain JSON-able data with every secret masked."""
    return config.model_dump(mode="json")
