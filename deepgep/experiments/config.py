"""Experiment configuration: an embedded default, TOML loading and validation that reports
every problem in one message before any work starts."""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..equivalence.activations import ACTIVATIONS

__all__ = ["DEFAULT_CONFIG", "ConfigError", "load_config", "validate_config", "METHODS"]

#: methods per task kind
METHODS = {
    "regression": ("gamp", "ridge_opt", "ridge_cv", "mlp"),
    "classification": ("gamp", "logistic_cv", "mlp"),
}

#: The embedded default: finishes in a few minutes on a 2-core machine.
DEFAULT_CONFIG: dict[str, Any] = {
    "teacher": {
        "n_features": 1000,
        "hidden_widths": [1000, 1000],
        "activation": "tanh",
        "readout": "linear",
        "label_noise": 0.1,
    },
    "experiment": {
        "alphas": [0.5, 1.0, 2.0, 3.0, 4.0],
        "seeds": [0, 1, 2, 3],
        "n_test": 10000,
        "methods": ["gamp", "ridge_opt", "ridge_cv", "mlp"],
        "tracking_alpha": 2.0,
    },
    "gamp": {"max_iter": 300, "tol": 1e-7},
    "mlp": {"hidden_units": 64, "max_iter": 150},
}


class ConfigError(ValueError):
    """A configuration with problems; the message lists all of them."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


Check = Callable[[Any], str | None]


def _positive_int(v: Any) -> str | None:
    return None if _is_int(v) and v >= 1 else "a positive integer"


def _nonneg_num(v: Any) -> str | None:
    return None if _is_num(v) and v >= 0 else "a number >= 0"


def _positive_num(v: Any) -> str | None:
    return None if _is_num(v) and v > 0 else "a number > 0"


def _int_list(v: Any) -> str | None:
    ok = isinstance(v, list) and len(v) > 0 and all(_is_int(x) and x >= 0 for x in v)
    return None if ok else "a non-empty list of integers >= 0"


def _width_list(v: Any) -> str | None:
    ok = isinstance(v, list) and all(_is_int(x) and x >= 1 for x in v)
    return None if ok else "a list of positive integers"


def _alpha_list(v: Any) -> str | None:
    ok = isinstance(v, list) and len(v) > 0 and all(_is_num(x) and x > 0 for x in v)
    return None if ok else "a non-empty list of numbers > 0"


def _activation(v: Any) -> str | None:
    if isinstance(v, str) and v in ACTIVATIONS:
        return None
    if isinstance(v, list) and v and all(isinstance(x, str) and x in ACTIVATIONS for x in v):
        return None
    return f"one of {list(ACTIVATIONS)} (or a list of them, one per layer)"


def _readout(v: Any) -> str | None:
    return None if v in ("linear", "sign") else '"linear" or "sign"'


def _methods(v: Any) -> str | None:
    known = sorted(set(METHODS["regression"]) | set(METHODS["classification"]))
    ok = isinstance(v, list) and v and all(isinstance(x, str) and x in known for x in v)
    return None if ok else f"a non-empty list from {known}"


SCHEMA: dict[str, dict[str, Check]] = {
    "teacher": {
        "n_features": _positive_int,
        "hidden_widths": _width_list,
        "activation": _activation,
        "readout": _readout,
        "label_noise": _nonneg_num,
    },
    "experiment": {
        "alphas": _alpha_list,
        "seeds": _int_list,
        "n_test": _positive_int,
        "methods": _methods,
        "tracking_alpha": _positive_num,
    },
    "gamp": {"max_iter": _positive_int, "tol": _positive_num},
    "mlp": {"hidden_units": _positive_int, "max_iter": _positive_int},
}


def validate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Merge ``raw`` over the default and check it; raise :class:`ConfigError` listing every
    unknown key, wrong type and out-of-range value."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError("configuration must be a table of sections")
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    for section, values in raw.items():
        if section not in SCHEMA:
            problems.append(f"unknown section [{section}] (known: {sorted(SCHEMA)})")
            continue
        if not isinstance(values, dict):
            problems.append(f"[{section}] must be a table")
            continue
        for key, value in values.items():
            check = SCHEMA[section].get(key)
            if check is None:
                problems.append(f"unknown key {section}.{key} (known: {sorted(SCHEMA[section])})")
                continue
            expected = check(value)
            if expected is not None:
                problems.append(f"{section}.{key} must be {expected}, got {value!r}")
            else:
                cfg[section][key] = value
    t, e = cfg["teacher"], cfg["experiment"]
    if isinstance(t["activation"], list) and len(t["activation"]) != len(t["hidden_widths"]):
        problems.append(
            f"teacher.activation lists {len(t['activation'])} activations for "
            f"{len(t['hidden_widths'])} hidden layers"
        )
    kind = "classification" if t["readout"] == "sign" else "regression"
    if "methods" not in raw.get("experiment", {}):
        e["methods"] = list(METHODS[kind])
    wrong = [m for m in e["methods"] if m not in METHODS[kind]]
    if wrong:
        problems.append(f"experiment.methods {wrong} do not apply to {kind} "
                        f"(readout={t['readout']!r}); use {list(METHODS[kind])}")
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return cfg


def load_config(path: str | Path | None) -> dict[str, Any]:
    """The validated configuration from a TOML file (or the embedded default for ``None``)."""
    if path is None:
        return validate_config({})
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from exc
    return validate_config(raw)
