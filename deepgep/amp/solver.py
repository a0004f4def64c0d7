"""Generalized approximate message passing (GAMP), math.md §3.4.

Convention: ``z = X w / √d`` (``X`` is ``n × d``, ``w`` has ``d`` entries), so for i.i.d.
standard Gaussian ``X`` each ``z_μ`` has variance ``E[w²]``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..backend import namespace, to_numpy
from .channels import Channel, GaussianChannel, ProbitChannel
from .learning import update_channel
from .operators import Operator, as_operator
from .priors import Prior

__all__ = ["gamp", "GAMPResult", "default_damping"]

_HISTORY_KEYS = ("delta", "mean_var", "V", "A", "damping")
_TRUE_KEYS = ("overlap", "q", "mse")
_A_FLOOR = 1e-12
_STALL = 15
_MAX_AUTO_DAMPING = 0.9


@dataclass
class GAMPResult:
    """What :func:`gamp` returns.

    Attributes
    ----------
    x_hat, x_var : arrays
        Posterior mean and variance of the weights (``(d,)``, or ``(d, k)`` for ``k`` targets),
        in the namespace and dtype of the input.
    n_iter : int
        Iterations run.
    converged : bool
        Whether the change of ``x_hat`` fell below ``tol``.
    history : dict of numpy arrays
        Per iteration: ``delta`` (RMS change of x_hat relative to its RMS), ``mean_var``,
        ``V``, ``A``, ``damping``; with ``x_true``: ``overlap`` m = x̂·x*/d, ``q`` = |x̂|²/d
        and ``mse`` = |x̂ - x*|²/d.
    omega, V : array, float
        The last output-side estimate of ``z`` and its variance.
    channel : Channel
        The channel at the end (differs from the input when ``learn_channel=True``).
    damping : float
        The damping in force at the end (adaptive damping may have raised it).
    """

    x_hat: Any
    x_var: Any
    n_iter: int
    converged: bool
    history: dict[str, np.ndarray]
    omega: Any
    V: Any
    channel: Channel
    damping: float
    n_rollbacks: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def default_damping(channel: Channel) -> float:
    """A sensible damping per channel (Gaussian: none; sign/probit and generic: light)."""
    if isinstance(channel, GaussianChannel):
        return 0.0
    if isinstance(channel, ProbitChannel):
        return 0.1
    return 0.2


def _validate(op: Operator, y: Any, channel: Channel) -> tuple[Any, Any, Any]:
    n, d = op.shape if len(op.shape) == 2 else (None, None)
    if len(op.shape) != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {op.shape}")
    if n == 0 or d == 0:
        raise ValueError(f"X must be non-empty, got shape {op.shape}")
    if op.dense is not None:
        X = op.dense
        xp = namespace(X)
        if not (xp.isdtype(X.dtype, "real floating") or xp.isdtype(X.dtype, "integral")):
            raise ValueError(f"X must have a real numeric dtype, got {X.dtype}")
        if xp.isdtype(X.dtype, "integral"):
            X = xp.astype(X, xp.float64)
            op = Operator(X)
        dtype = xp.float32 if X.dtype == xp.float32 else xp.float64
        if not _all_finite_blocks(xp, X):
            raise ValueError("X contains NaN or infinite values")
    else:
        xp = namespace(y)
        dtype = getattr(op.raw, "dtype", None)
        dtype = xp.float32 if dtype == np.float32 else xp.float64
    if isinstance(y, (list, tuple)):
        y = np.asarray(y)
    y = xp.asarray(y)
    if not (xp.isdtype(y.dtype, "real floating") or xp.isdtype(y.dtype, "integral")
            or xp.isdtype(y.dtype, "bool")):
        raise ValueError(f"y must be numeric, got dtype {y.dtype}")
    y = xp.astype(y, dtype)
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) or ({n}, k) to match X, got {tuple(y.shape)}")
    if not bool(xp.all(xp.isfinite(y))):
        raise ValueError("y contains NaN or infinite values")
    channel.validate_labels(y)
    return op, y, xp


def _all_finite_blocks(xp: Any, X: Any, block: int = 4096) -> bool:
    for start in range(0, X.shape[0], block):
        if not bool(xp.all(xp.isfinite(X[start : min(start + block, X.shape[0]), ...]))):
            return False
    return True


def gamp(
    X: Any,
    y: Any,
    prior: Prior,
    channel: Channel,
    *,
    max_iter: int = 200,
    tol: float = 1e-6,
    damping: float | None = None,
    variance: str = "scalar",
    x_true: Any = None,
    callback: Callable[[int, dict[str, Any]], Any] | None = None,
    learn_channel: bool = False,
    warn: bool = True,
) -> GAMPResult:
    """Run Bayes-optimal GAMP for ``y ~ P_out(· | X w / √d)``, ``w_i ~ P0`` (math.md §3.4).

    Parameters
    ----------
    X : array (n, d), scipy sparse matrix, or linear operator with matvec/rmatvec
        Design matrix. NumPy, CuPy or any array-API array; the iteration stays in its namespace.
    y : array (n,) or (n, k)
        Labels; with ``k`` columns, ``k`` independent problems share the passes over ``X``.
    prior : Prior
        Prior on the weights (see :mod:`deepgep.amp.priors`).
    channel : Channel
        Output channel (see :mod:`deepgep.amp.channels`).
    max_iter : int
        Maximum number of iterations.
    tol : float
        Stop when the RMS change of ``x_hat`` relative to its RMS is below ``tol``.
    damping : float in [0, 1), optional
        ``new = (1 - damping)·update + damping·old`` on ``(x_hat, x_var)``; default per channel
        (:func:`default_damping`). Raised automatically after a non-finite or diverging step.
    variance : {"scalar", "vector"}
        ``"scalar"`` (uniform variances; two passes over ``X`` per iteration and nothing else
        touches ``X``) or ``"vector"`` (full GAMP with ``X ∘ X``).
    x_true : array (d,) or (d, k), optional
        Ground truth, to record overlap, q and MSE per iteration.
    callback : callable, optional
        ``callback(t, state)`` after each iteration, with ``state`` a dict holding ``x_hat``,
        ``x_var``, ``omega``, ``V``, ``delta``; returning ``True`` stops the iteration.
    learn_channel : bool
        Learn the channel's parameters by expectation-maximisation inside GAMP
        (:func:`deepgep.amp.learning.update_channel`).
    warn : bool
        Emit sklearn's ``ConvergenceWarning`` when ``max_iter`` is reached.

    Returns
    -------
    GAMPResult
    """
    if variance not in ("scalar", "vector"):
        raise ValueError(f'variance must be "scalar" or "vector", got {variance!r}')
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    beta = default_damping(channel) if damping is None else damping
    if not (isinstance(beta, (int, float)) and 0.0 <= beta < 1.0):
        raise ValueError(f"damping must be a number in [0, 1), got {damping!r}")
    if not isinstance(prior, Prior):
        raise ValueError(f"prior must be a Prior object, got {type(prior).__name__}")
    if not isinstance(channel, Channel):
        raise ValueError(f"channel must be a Channel object, got {type(channel).__name__}")

    op = as_operator(X)
    op, y, xp = _validate(op, y, channel)
    n, d = op.shape
    dtype = y.dtype
    multi = y.ndim == 2
    sqrt_d = math.sqrt(d)
    alpha = n / d
    s2 = op.frobenius_sq / (n * d)  # mean squared entry of X
    if not s2 > 0:
        raise ValueError("X is identically zero")
    X2 = op.squared() if variance == "vector" else None

    xshape = (d, y.shape[1]) if multi else (d,)
    if x_true is not None:
        x_true = xp.astype(xp.asarray(x_true), dtype)
        if tuple(x_true.shape) != xshape:
            raise ValueError(f"x_true must have shape {xshape}, got {tuple(x_true.shape)}")

    x = xp.full(xshape, prior.mean, dtype=dtype)
    v = xp.full(xshape, prior.variance, dtype=dtype)
    g = xp.zeros_like(y)
    omega = xp.zeros_like(y)
    V: Any = s2 * prior.variance
    history: dict[str, list[float]] = {k: [] for k in _HISTORY_KEYS}
    if x_true is not None:
        history.update({k: [] for k in _TRUE_KEYS})

    def mean0(a: Any) -> Any:
        m = xp.mean(a, axis=0)
        return m if multi else float(m)

    good = (x, v, g, V)
    converged = False
    rollbacks = 0
    rising = stalled = 0
    prev_delta = best_delta = math.inf
    t = 0
    for t in range(1, max_iter + 1):
        # Output side: V, ω, g_out, ∂g_out.
        if X2 is None:
            V = s2 * mean0(v)
        else:
            V = (X2 @ v) / d
        omega = op.matvec(x) / sqrt_d - V * g
        g_new, dg = channel.output(y, omega, V)
        # Input side: A, B, denoiser.
        if X2 is None:
            A = -s2 * alpha * mean0(dg)
            A = xp.maximum(A, _A_FLOOR) if multi else max(A, _A_FLOOR)
        else:
            A = xp.maximum(-(X2.T @ dg) / d, _A_FLOOR)
        B = op.rmatvec(g_new) / sqrt_d + A * x
        x_new, v_new = prior.denoise(A, B)

        finite = bool(xp.all(xp.isfinite(x_new))) and bool(xp.all(xp.isfinite(v_new))) \
            and bool(xp.all(xp.isfinite(g_new)))
        if not finite:
            rollbacks += 1
            x, v, g, V = good
            beta = max(0.5, 0.5 * (1.0 + beta))
            if beta > 0.999:
                break
            continue

        x_old = x
        if beta > 0:
            x = beta * x + (1.0 - beta) * x_new
            v = beta * v + (1.0 - beta) * v_new
        else:
            x, v = x_new, v_new
        g = g_new
        diff = x - x_old
        num = float(xp.mean(diff * diff))
        den = float(xp.mean(x * x)) + 1e-30
        delta = math.sqrt(num / den)
        good = (x, v, g, V)

        if learn_channel and t >= 3:
            new_channel = update_channel(channel, y, omega, V, g, dg)
            delta = max(delta, _param_change(channel, new_channel))
            channel = new_channel

        # Divergence (a change that keeps growing) or a stall (a limit cycle: no progress
        # for _STALL iterations) is met with stronger damping.
        rising = rising + 1 if delta > prev_delta * 1.5 and delta > 1e-3 else 0
        prev_delta = delta
        if delta < 0.9 * best_delta:
            best_delta, stalled = delta, 0
        else:
            stalled += 1
        if (rising >= 3 or stalled >= _STALL) and beta < _MAX_AUTO_DAMPING:
            beta = min(0.5 * (1.0 + beta), _MAX_AUTO_DAMPING)
            rising = stalled = 0
            best_delta = math.inf

        history["delta"].append(delta)
        history["mean_var"].append(float(xp.mean(v)))
        history["V"].append(float(xp.mean(xp.asarray(V))) if not isinstance(V, float) else V)
        history["A"].append(float(xp.mean(xp.asarray(A))) if not isinstance(A, float) else A)
        history["damping"].append(beta)
        if x_true is not None:
            history["overlap"].append(float(xp.mean(x * x_true)))
            history["q"].append(float(xp.mean(x * x)))
            dd = x - x_true
            history["mse"].append(float(xp.mean(dd * dd)))
        if callback is not None:
            state = {"x_hat": x, "x_var": v, "omega": omega, "V": V, "delta": delta}
            if callback(t, state):
                break
        if delta < tol:
            converged = True
            break

    if not converged and warn and t >= max_iter:
        warnings.warn(
            f"GAMP did not converge in {max_iter} iterations (last relative change "
            f"{history['delta'][-1] if history['delta'] else float('nan'):.3g} > tol={tol:g})",
            ConvergenceWarning,
            stacklevel=2,
        )
    hist = {k: np.asarray(vals, dtype=float) for k, vals in history.items()}
    return GAMPResult(
        x_hat=x,
        x_var=v,
        n_iter=t,
        converged=converged,
        history=hist,
        omega=omega,
        V=V,
        channel=channel,
        damping=beta,
        n_rollbacks=rollbacks,
    )


def _param_change(old: Channel, new: Channel) -> float:
    out = 0.0
    for name in ("scale", "noise_variance"):
        a, b = getattr(old, name, None), getattr(new, name, None)
        if a is not None and b is not None:
            out = max(out, abs(b - a) / (abs(a) + 1e-12))
    return out


def _as_numpy_history(hist: dict[str, Any]) -> dict[str, np.ndarray]:  # pragma: no cover
    return {k: to_numpy(v) for k, v in hist.items()}
