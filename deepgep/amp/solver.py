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

from ..backend import cache_block_bytes, cache_bytes, namespace
from .channels import Channel, GaussianChannel, ProbitChannel
from .learning import update_channel
from .operators import CenteredOperator, Operator, as_operator
from .priors import Prior

__all__ = ["gamp", "GAMPResult", "default_damping"]

_HISTORY_KEYS = ("delta", "mean_var", "V", "A", "damping")
_TRUE_KEYS = ("overlap", "q", "mse")
_A_FLOOR = 1e-12
_STALL = 15
_STALL_FLOOR = 1e-4  # changes below this are rounding-level progress, not a limit cycle
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


def _validate(op: Operator, y: Any, channel: Channel,
              check_finite: bool = True) -> tuple[Any, Any, Any]:
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
        # NaN/inf make ‖X‖_F² non-finite: the set-up pass (Xᵀ1 and ‖X‖_F², both needed
        # later) checks X; the exact elementwise test runs only when the norm is not finite.
        if check_finite:
            op.column_sums()
            if not math.isfinite(op.frobenius_sq) and not _all_finite_blocks(xp, X):
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


def _all_finite_blocks(xp: Any, X: Any) -> bool:
    block = max(1, 2**20 // max(X.shape[1], 1))  # ~1 MiB boolean temporaries
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
    fused: bool | None = None,
    dtype: Any = None,
    check_input: bool = True,
    mean_removal: bool | None = None,
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
    fused : bool or None
        Fused row-block iteration for dense ``X`` with scalar variances: for each block of
        rows, ``ω_B = X_B x̂/√d - V g_B``, the channel, and ``X_Bᵀ g_B`` while the block is in
        cache, so one pass over ``X`` per iteration. ``None`` (default) chooses it for NumPy
        arrays larger than the L3 cache (and than 32 MiB); never for GPU arrays, where few
        large kernels are faster.
    dtype : None, "float32" or "float64"
        Working precision (``None``: float32 stays float32, anything else float64); a
        different dtype from ``X``'s converts (copies) ``X`` once.
    check_input : bool
        Report NaN/inf in a dense ``X`` as such. It costs no extra pass: the set-up pass
        that gives ``Xᵀ1`` and ``‖X‖_F²`` finds them (non-finite ``X`` is rejected either way,
        then with a message that also covers overflow).
    mean_removal : bool or None
        GAMP assumes zero-mean entries; with non-zero column means it diverges. Mean removal
        runs on the centred ``X - 1μᵀ`` (never formed) and estimates the common offset
        ``μ·w/√d`` of all pre-activations as one scalar, by a Newton step on
        ``Σ ln Z_out`` per iteration. ``None`` (default) turns it on for dense ``X`` whose
        column means carry more than 1% of its energy (and ten times what zero-mean columns
        carry by chance).

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

    if dtype is not None:
        if _dtype_name(dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}")
        if hasattr(X, "__array_namespace__") and X.dtype != np.dtype(dtype):
            xp0 = namespace(X)
            X = xp0.astype(X, getattr(xp0, str(np.dtype(dtype))))
    op = as_operator(X)
    op, y, xp = _validate(op, y, channel, check_finite=check_input)
    n, d = op.shape
    dtype = y.dtype
    multi = y.ndim == 2
    sqrt_d = math.sqrt(d)
    inv_sqrt_d = 1.0 / sqrt_d
    alpha = n / d
    op, offset_on = _mean_removal(op, mean_removal, variance)
    s2 = op.frobenius_sq / (n * d)  # mean squared entry of X (centred when removing means)
    if not math.isfinite(s2):
        raise ValueError("X contains NaN or infinity, or entries so large that the sum of their "
                         "squares overflows (rescale X)")
    if not s2 > 0:
        raise ValueError("X is identically zero" if not offset_on else
                         "X has constant columns only (nothing left after mean removal)")
    X2 = op.squared() if variance == "vector" else None
    block_rows = _fused_block_rows(op, fused) if X2 is None else 0

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
        if multi:
            return xp.mean(a, axis=0)
        return _sum(xp, a) / a.shape[0]

    converged = False
    rollbacks = 0
    rising = stalled = 0
    prev_delta = best_delta = math.inf
    # The best iterate so far by GAMP's predictive fit of the data (the initial prior-mean
    # iterate included): what a run that fails to converge returns.
    offset = 0.0
    best: tuple[float, Any, Any, Any, Any] = (-math.inf, x, v, g, V)
    v_mean = mean0(v)
    t = 0
    for t in range(1, max_iter + 1):
        # Output side: V, ω, g_out, ∂g_out.
        V = s2 * v_mean if X2 is None else (X2 @ v) / d
        if block_rows:
            # One pass over X: each row block's output step and X_Bᵀ g_B while it is in cache.
            omega, g_new, dg, XTg = _fused_pass(xp, op.dense, x, V, g, y, channel, block_rows,
                                                sqrt_d)
            p = omega + V * g
        else:
            p = op.matvec(x * inv_sqrt_d)  # the 1/√d on the shorter side
            if offset_on:
                p = p + offset
            omega = p - V * g
            g_new, dg = channel.output(y, omega, V)
            XTg = None
            if offset_on:
                # Newton step for the common offset: stationarity of Σ ln Z_out in it.
                step = xp.sum(g_new, axis=0) / xp.maximum(-xp.sum(dg, axis=0), 1e-300)
                step = step if multi else float(step)
                offset = offset + step
                omega = omega + step
                p = p + step
                g_new, dg = channel.output(y, omega, V)
        score = _fit_score(xp, channel, y, p, V)
        if score > best[0]:
            best = (score, x, v, g, V)
        # Input side: A, B, denoiser.
        if X2 is None:
            A = -s2 * alpha * mean0(dg)
            A = xp.maximum(A, _A_FLOOR) if multi else max(A, _A_FLOOR)
        else:
            A = xp.maximum(-(X2.T @ dg) / d, _A_FLOOR)
        if XTg is None:
            XTg = op.rmatvec(g_new) / sqrt_d
        B = XTg + A * x
        x_new, v_new = prior.denoise(A, B)
        if beta > 0:
            x_new = beta * x + (1.0 - beta) * x_new
            v_new = beta * v + (1.0 - beta) * v_new
            g_new = beta * g + (1.0 - beta) * g_new
        # The sums the iteration needs anyway; NaN/inf anywhere makes one of them non-finite.
        sq_diff, sq_x = _sqnorm(xp, x_new - x), _sqnorm(xp, x_new)
        v_mean_new = mean0(v_new)
        v_total = _sum(xp, v_mean_new) if multi else v_mean_new
        if not (math.isfinite(score)
                and math.isfinite(sq_diff + sq_x + _sqnorm(xp, g_new) + v_total)):
            # Roll back to the best iterate and damp harder.
            rollbacks += 1
            _, x, v, g, V = best
            v_mean = mean0(v)
            beta = max(0.5, 0.5 * (1.0 + beta))
            if beta > 0.999:
                break
            continue
        x, v, g, v_mean = x_new, v_new, g_new, v_mean_new
        delta = math.sqrt(sq_diff / (sq_x + 1e-300))

        if learn_channel and t >= 3:
            new_channel = update_channel(channel, y, omega, V, g_new, dg)
            delta = max(delta, _param_change(channel, new_channel))
            channel = new_channel

        # Divergence (a change that keeps growing) or a stall (a limit cycle: no progress
        # for _STALL iterations): back to the best iterate, with stronger damping.
        rising = rising + 1 if delta > prev_delta * 1.5 and delta > 1e-3 else 0
        prev_delta = delta
        if delta < 0.9 * best_delta or delta < _STALL_FLOOR:
            best_delta, stalled = min(delta, best_delta), 0
        else:
            stalled += 1
        if (rising >= 3 or stalled >= _STALL) and beta < _MAX_AUTO_DAMPING:
            beta = min(0.5 * (1.0 + beta), _MAX_AUTO_DAMPING)
            rising = stalled = 0
            best_delta = prev_delta = math.inf
            if _much_worse(score, best[0]):
                _, x, v, g, V = best
                v_mean = mean0(v)
                rollbacks += 1

        history["delta"].append(delta)
        history["mean_var"].append(float(xp.mean(v)) if multi else v_mean)
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

    if not converged:
        # Return the best iterate seen (by predictive fit), never a diverged one.
        V_last = s2 * mean0(v) if X2 is None else (X2 @ v) / d
        final_score = _fit_score(xp, channel, y, op.matvec(x) / sqrt_d + offset, V_last)
        if _much_worse(final_score, best[0]):
            _, x, v, g, V = best
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
        extra={"offset": offset, "center": op.center} if offset_on else {},
    )


_FUSED_MIN_BYTES = 32 * 2**20
_FUSED_BLOCK_BYTES: int | None = None  # None: backend.cache_block_bytes()


def _fused_block_rows(op: Operator, fused: bool | None) -> int:
    """Rows per block of the fused pass (0: use the two-pass form)."""
    X = op.dense
    if X is None or fused is False:
        if fused and X is None:
            raise ValueError("fused=True needs X as a dense array")
        return 0
    n, d = op.shape
    itemsize = 4 if X.dtype == namespace(X).float32 else 8
    if fused is None and (not isinstance(X, np.ndarray) or n * d * itemsize < max(
            _FUSED_MIN_BYTES, cache_bytes(3, 0))):
        return 0  # auto: NumPy arrays that outgrow the L3 (a GPU wants few large kernels)
    block = _FUSED_BLOCK_BYTES or cache_block_bytes()
    return max(8, min(n, block // (d * itemsize)))


def _fused_pass(xp: Any, X: Any, x: Any, V: Any, g_old: Any, y: Any, channel: Channel,
                rows: int, sqrt_d: float) -> tuple[Any, Any, Any, Any]:
    """Output step and ``Xᵀ g / √d`` in one pass over the row blocks of ``X``."""
    n = X.shape[0]
    x_s = x / sqrt_d
    omega = -V * g_old  # each block adds X_B x̂/√d in place
    g_new = xp.empty_like(g_old)
    dg = xp.empty_like(g_old)
    if isinstance(X, np.ndarray):
        # NumPy: products written straight into their destinations (no per-block temporaries).
        acc, part = np.zeros_like(x), np.empty_like(x)
        buf = np.empty((rows,) + tuple(g_old.shape[1:]), dtype=g_old.dtype)
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            Xb, om = X[start:stop], omega[start:stop]
            om += np.matmul(Xb, x_s, out=buf[: stop - start])
            gb, dgb = channel.output(y[start:stop], om, V)
            g_new[start:stop] = gb
            dg[start:stop] = dgb
            acc += np.matmul(Xb.T, g_new[start:stop], out=part)
        return omega, g_new, dg, acc / sqrt_d
    acc = xp.zeros_like(x)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        Xb = X[start:stop, ...]
        om = Xb @ x_s + omega[start:stop, ...]
        gb, dgb = channel.output(y[start:stop, ...], om, V)
        acc = acc + Xb.T @ gb
        omega[start:stop, ...] = om
        g_new[start:stop, ...] = gb
        dg[start:stop, ...] = dgb
    return omega, g_new, dg, acc / sqrt_d


def _dtype_name(dtype: Any) -> str:
    try:
        return str(np.dtype(dtype))
    except TypeError:
        return repr(dtype)


_MEAN_ENERGY = 0.01


def _mean_removal(op: Operator, mean_removal: bool | None, variance: str
                  ) -> tuple[Operator, bool]:
    """The centred operator when mean removal is on (see :func:`gamp`)."""
    if mean_removal is False or op.dense is None:
        if mean_removal and op.dense is None:
            raise ValueError("mean_removal=True needs X as a dense array")
        return op, False
    X = op.dense
    xp = namespace(X)
    n, d = op.shape
    mu = op.column_sums() / n  # with ‖X‖_F² in the same pass for NumPy arrays
    mean_energy = float(xp.sum(mu * mu)) * n
    # Zero-mean columns give n‖μ‖² ≈ ‖X‖_F²/n by chance: ask for much more than that.
    threshold = max(_MEAN_ENERGY, 10.0 / n) * op.frobenius_sq
    if mean_removal is None and mean_energy <= threshold:
        return op, False
    if variance == "vector":
        raise ValueError('mean_removal needs variance="scalar"')
    return CenteredOperator(X, mu, base=op), True


def _sqnorm(xp: Any, a: Any) -> float:
    """‖a‖² (a BLAS dot for vectors)."""
    return float(a @ a) if a.ndim == 1 else _sum(xp, a * a)


def _sum(xp: Any, a: Any) -> float:
    """``Σ a`` as a float (``ndarray.sum`` for NumPy: at GAMP's vector sizes the namespace
    wrapper costs more than the sum)."""
    return float(a.sum()) if type(a) is np.ndarray else float(xp.sum(a))


def _fit_score(xp: Any, channel: Channel, y: Any, p: Any, V: Any) -> float:
    """GAMP's predictive fit of the data ``Σ ln Z_out(y, X x̂/√d, V)`` (higher is better);
    ``-inf`` for a non-finite iterate."""
    val = channel.log_partition_sum(y, p, V)
    return val if math.isfinite(val) else -math.inf


def _much_worse(score: float, best: float) -> bool:
    """A fit clearly worse than the best one (not rounding or the normal non-monotone path of
    the iteration, whose predictive fit need not peak at the fixed point)."""
    return not (score >= best - max(0.01 * abs(best), 1.0))


def _param_change(old: Channel, new: Channel) -> float:
    out = 0.0
    for name in ("scale", "noise_variance"):
        a, b = getattr(old, name, None), getattr(new, name, None)
        if a is not None and b is not None:
            out = max(out, abs(b - a) / (abs(a) + 1e-12))
    return out
