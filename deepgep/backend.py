"""Array backends: the array namespace of the inputs, and the special functions GAMP needs.

The namespace comes from the arrays (``array_api_compat.array_namespace``); NumPy is the
default. Special functions dispatch to :mod:`scipy.special` for NumPy and to
:mod:`cupyx.scipy.special` for CuPy. For any other namespace (e.g. ``array_api_strict``)
the documented fallback converts to NumPy through DLPack, evaluates with SciPy and converts
back; it is correct but copies, so it is meant for testing, not for speed.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
from scipy import special as _sp

__all__ = [
    "namespace",
    "is_numpy",
    "to_numpy",
    "erf",
    "erfc",
    "erfcx",
    "log_ndtr",
    "ndtr",
    "expit",
    "usable_cpus",
    "cache_bytes",
    "cache_block_bytes",
]

_SCALARS = (int, float, bool, np.generic)
_NP = array_api_compat.array_namespace(np.zeros(0))


def namespace(*arrays: Any) -> ModuleType:
    """Array namespace of the given arrays (Python scalars and ``None`` are ignored).

    Returns the array-api-compat NumPy namespace when no array is given.
    """
    arrs = [a for a in arrays if a is not None and not isinstance(a, _SCALARS)]
    if not arrs or all(type(a) is np.ndarray for a in arrs):  # fast path for the hot loop
        return _NP
    return array_api_compat.array_namespace(*arrs)


def is_numpy(xp: ModuleType) -> bool:
    """Whether ``xp`` is NumPy (plain or wrapped by array-api-compat)."""
    return array_api_compat.is_numpy_namespace(xp)


def _is_cupy(xp: ModuleType) -> bool:
    return array_api_compat.is_cupy_namespace(xp)


def to_numpy(x: Any) -> np.ndarray:
    """Copy any array (NumPy, CuPy, array-api-strict, ...) to a NumPy array. Not for hot loops."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, _SCALARS):
        return np.asarray(x)
    if hasattr(x, "get") and _is_cupy(namespace(x)):
        return x.get()
    return np.from_dlpack(x)


def _dispatch(name: str, x: Any) -> Any:
    xp = namespace(x)
    if is_numpy(xp):
        return getattr(_sp, name)(x)
    if _is_cupy(xp):
        import cupyx.scipy.special as cusp

        return getattr(cusp, name)(x)
    # Documented fallback for other namespaces: evaluate on NumPy, convert back.
    out = getattr(_sp, name)(np.from_dlpack(x))
    return xp.asarray(out, device=array_api_compat.device(x))


def erf(x: Any) -> Any:
    """Error function."""
    return _dispatch("erf", x)


def erfc(x: Any) -> Any:
    """Complementary error function."""
    return _dispatch("erfc", x)


def erfcx(x: Any) -> Any:
    """Scaled complementary error function exp(x²)·erfc(x), finite for all finite x."""
    return _dispatch("erfcx", x)


def log_ndtr(x: Any) -> Any:
    """log Φ(x), the log of the standard normal CDF, accurate far in the lower tail."""
    return _dispatch("log_ndtr", x)


def ndtr(x: Any) -> Any:
    """Φ(x), the standard normal CDF."""
    return _dispatch("ndtr", x)


def expit(x: Any) -> Any:
    """Logistic sigmoid 1/(1+e^{-x}), written with tanh so it never overflows."""
    xp = namespace(x)
    return 0.5 * (1.0 + xp.tanh(0.5 * x))


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=8)
def cache_bytes(level: int, default: int,
                root: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """Size of CPU 0's level-``level`` data or unified cache (Linux sysfs; ``default``
    where it cannot be read)."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    try:
        for index in os.scandir(root):
            if not index.name.startswith("index"):
                continue
            path = index.path
            with open(f"{path}/level") as f_level, open(f"{path}/type") as f_type:
                if f_level.read().strip() != str(level) or f_type.read().strip() not in (
                        "Data", "Unified"):
                    continue
            with open(f"{path}/size") as f_size:
                size = f_size.read().strip()
            return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
    except (OSError, ValueError):
        pass
    return default


@functools.lru_cache(maxsize=1)
def cache_block_bytes() -> int:
    """Bytes per row block for passes that read a block of ``X`` twice while it is in cache
    (GAMP's fused pass, the set-up pass). Multithreaded BLAS splits two products over a block
    differently between its threads, so the second read should find the block in the shared
    L3, not in another core's L2: four times all cores' L2 (on the 2-core AMD CI machine
    smaller blocks ran at the two-pass speed; docs/benchmarks.md), at most half the L3."""
    l2, l3 = cache_bytes(2, 2**20), cache_bytes(3, 32 * 2**20)
    return max(4 * 2**20, min(4 * usable_cpus() * l2, l3 // 2))
