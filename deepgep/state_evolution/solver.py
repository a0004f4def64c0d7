"""State evolution, replica free entropy, mutual information and optimal errors of a GLM
(math.md §3.3), for any prior × channel of :mod:`deepgep.amp`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq

from ..amp.channels import Channel, GenericChannel
from ..amp.priors import Prior
from .averages import InputAverages, OutputAverages

__all__ = [
    "SEResult",
    "SECurve",
    "FixedPoints",
    "Transitions",
    "solve",
    "curve",
    "fixed_points",
    "find_transitions",
    "track",
    "free_entropy",
]


@dataclass(frozen=True)
class SEResult:
    """A state-evolution fixed point (or a curve of them, with array fields).

    Attributes
    ----------
    alpha : float or array
        Sample ratio ``n/d``.
    q, q_hat : float or array
        Overlap ``q`` and its conjugate ``q̂ = α E g_out²``.
    mse : float or array
        ``ρ_w - q``, the Bayes-optimal (or GAMP) estimation error per weight.
    generalization_error : float or array
        ``E(Y_new - Ŷ_new)²`` on noisy labels with the posterior-mean predictor (math.md §3.3).
    classification_error : float, array or None
        ``P(sign Ŷ ≠ Y)`` for ±1 channels, else ``None``.
    free_entropy : float or array
        ``f_RS(q, q̂)`` at the fixed point.
    mutual_information : float or array
        ``I(w*; data)/d`` from the replica formula at this fixed point.
    trajectory : array
        ``q_t`` per iteration (``(n_iter + 1,)``, or ``(n_iter + 1, n_alpha)`` for a curve).
    converged : bool or array
    n_iter : int
    init : str
    """

    alpha: Any
    q: Any
    q_hat: Any
    mse: Any
    generalization_error: Any
    classification_error: Any
    free_entropy: Any
    mutual_information: Any
    trajectory: np.ndarray
    converged: Any
    n_iter: int
    init: str
    rho: float = field(default=1.0)


SECurve = SEResult


def _iterate(
    inp: InputAverages,
    out: OutputAverages,
    alpha: np.ndarray,
    q0: np.ndarray,
    damping: float,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    q = np.array(q0, dtype=float)
    traj = [q.copy()]
    converged = np.zeros(q.shape, dtype=bool)
    r = alpha * out.hat(q)
    t = 0
    while t < max_iter:
        t += 1
        q_new = inp.overlap(r)
        if damping:
            q_new = damping * q + (1.0 - damping) * q_new
        step = np.abs(q_new - q)
        q = np.where(converged, q, q_new)
        traj.append(q.copy())
        converged |= step < tol * max(inp.rho, 1e-300)
        r = alpha * out.hat(q)
        if converged.all():
            break
    return q, r, np.asarray(traj), converged, t


def free_entropy(inp: InputAverages, out: OutputAverages, alpha: Any, q: Any, r: Any) -> Any:
    """Replica-symmetric potential ``f_RS(q, r) = ψ_P0(r) + α Ψ_out(q; ρ) - r q / 2``."""
    return inp.free_entropy(r) + alpha * out.free_entropy(q) - 0.5 * r * q


def _result(inp: InputAverages, out: OutputAverages, alpha: Any, q: Any, r: Any,
            traj: np.ndarray, conv: Any, n_iter: int, init: str) -> SEResult:
    f = free_entropy(inp, out, alpha, q, r)
    mi = -f + alpha * out.full_information()
    ce = out.classification_error(q)
    scalar = np.ndim(alpha) == 0

    def pick(a: Any) -> Any:
        if a is None:
            return None
        return float(np.asarray(a).reshape(-1)[0]) if scalar else np.asarray(a)

    return SEResult(
        alpha=pick(alpha),
        q=pick(q),
        q_hat=pick(r),
        mse=pick(inp.rho - np.asarray(q)),
        generalization_error=pick(out.generalization_error(q)),
        classification_error=pick(ce),
        free_entropy=pick(f),
        mutual_information=pick(mi),
        trajectory=traj.reshape(-1) if scalar else traj,
        converged=bool(np.all(conv)) if scalar else np.asarray(conv),
        n_iter=n_iter,
        init=init,
        rho=inp.rho,
    )


def _check_alpha(alpha: Any) -> np.ndarray:
    a = np.asarray(alpha, dtype=float)
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alpha must be finite and > 0, got {alpha!r}")
    return a


def _start(inp: InputAverages, init: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    if isinstance(init, str):
        if init == "uninformed":
            return np.full(shape, inp.q_min), init
        if init == "informed":
            return np.full(shape, inp.rho), init
        raise ValueError(f'init must be "uninformed", "informed" or a number q0, got {init!r}')
    q0 = float(init)
    if not (inp.q_min - 1e-12 <= q0 <= inp.rho + 1e-12):
        raise ValueError(f"init q0 must be in [{inp.q_min}, {inp.rho}] (the prior's range)")
    return np.full(shape, q0), "q0"


def _averages(prior: Prior, channel: Channel, n_nodes: int,
              interpolate: bool = False) -> tuple[InputAverages, OutputAverages]:
    if not isinstance(prior, Prior):
        raise ValueError(f"prior must be a Prior object, got {type(prior).__name__}")
    if not isinstance(channel, Channel):
        raise ValueError(f"channel must be a Channel object, got {type(channel).__name__}")
    inp = InputAverages(prior, n_nodes)
    out = OutputAverages(channel, inp.rho, n_nodes, interpolate=interpolate)
    return inp, out


def solve(
    prior: Prior,
    channel: Channel,
    alpha: float,
    *,
    init: str | float = "uninformed",
    damping: float = 0.0,
    tol: float = 1e-12,
    max_iter: int = 10_000,
    n_nodes: int = 64,
) -> SEResult:
    """Solve the state evolution of Bayes-optimal GAMP at one ``α`` (math.md §3.3).

    ``q̂ = α E[g_out²]`` and ``q = ρ_w - mmse(q̂)``, the averages computed from the prior's
    and channel's own functions (closed forms where available).

    Parameters
    ----------
    prior, channel :
        The model, as for :func:`deepgep.amp.gamp`.
    alpha : float
        Sample ratio ``n/d`` (> 0).
    init : {"uninformed", "informed"} or float
        ``q_0``: the prior-mean start ``(E w)²`` (what GAMP does), ``ρ_w``, or a number.
    damping : float
        ``q_{t+1} = damping·q_t + (1-damping)·update``.
    tol : float
        Stop when ``|q_{t+1} - q_t| < tol·ρ_w``.
    max_iter : int
    n_nodes : int
        Gauss–Hermite nodes of the averages.

    Returns
    -------
    SEResult
    """
    a = _check_alpha(alpha)
    if a.ndim != 0:
        raise ValueError("solve takes one alpha; use curve() for several")
    inp, out = _averages(prior, channel, n_nodes)
    q0, name = _start(inp, init, ())
    q, r, traj, conv, t = _iterate(inp, out, a, q0, damping, tol, max_iter)
    return _result(inp, out, float(a), q, r, traj, conv, t, name)


def curve(
    prior: Prior,
    channel: Channel,
    alphas: Any,
    *,
    init: str | float = "uninformed",
    damping: float = 0.0,
    tol: float = 1e-12,
    max_iter: int = 10_000,
    n_nodes: int = 64,
    interpolate: bool | str = "auto",
    warm_start: bool = False,
) -> SEResult:
    """State evolution for an array of ``α``, all iterated together (vectorised).

    By default every ``α`` starts from the same ``init``, so the branch found does not depend
    on the grid (what GAMP does at each α). With ``warm_start=True`` the grid is followed in
    order, each ``α`` starting from the previous fixed point: this continues a branch (and
    shows hysteresis across a first-order transition), at the price of a serial loop.
    With ``interpolate`` (default for :class:`~deepgep.amp.GenericChannel`), the output
    averages are Chebyshev interpolants in ``q`` built once from the exact quadrature,
    which makes a 100-point curve cost about as much as forty single evaluations.

    Returns
    -------
    SEResult
        With array fields (one entry per ``α``); ``trajectory`` has shape
        ``(n_iter + 1, n_alpha)``.
    """
    a = _check_alpha(alphas).reshape(-1)
    if interpolate == "auto":
        interpolate = isinstance(channel, GenericChannel)
    inp, out = _averages(prior, channel, n_nodes, interpolate=bool(interpolate))
    q0, name = _start(inp, init, a.shape)
    if not warm_start:
        q, r, traj, conv, t = _iterate(inp, out, a, q0, damping, tol, max_iter)
        return _result(inp, out, a, q, r, traj, conv, t, name)
    qs, rs, convs, trajs = [], [], [], []
    start = q0[:1]
    for k in range(a.size):
        q, r, traj, conv, _ = _iterate(inp, out, a[k : k + 1], start, damping, tol, max_iter)
        qs.append(q[0])
        rs.append(r[0])
        convs.append(conv[0])
        trajs.append(traj[:, 0])
        start = q
    longest = max(len(t_) for t_ in trajs)
    traj = np.stack([np.pad(t_, (0, longest - len(t_)), mode="edge") for t_ in trajs], axis=1)
    return _result(inp, out, a, np.asarray(qs), np.asarray(rs), traj, np.asarray(convs),
                   longest - 1, f"{name}, warm-started")


@dataclass(frozen=True)
class FixedPoints:
    """Fixed points from the uninformed and informed starts, and the information-theoretic
    one (the larger replica free entropy, i.e. the smaller mutual information)."""

    uninformed: SEResult
    informed: SEResult
    optimal: SEResult

    @property
    def unique(self) -> bool:
        """Whether both starts reach the same fixed point."""
        return abs(self.uninformed.q - self.informed.q) < 1e-6 * max(self.optimal.rho, 1e-300)


def fixed_points(prior: Prior, channel: Channel, alpha: float, **kwargs: Any) -> FixedPoints:
    """Solve from both starts and choose by the replica free entropy (math.md §3.3)."""
    u = solve(prior, channel, alpha, init="uninformed", **kwargs)
    i = solve(prior, channel, alpha, init="informed", **kwargs)
    best = i if i.free_entropy > u.free_entropy + 1e-12 else u
    return FixedPoints(u, i, best)


@dataclass(frozen=True)
class Transitions:
    """Algorithmic and information-theoretic thresholds (``None`` when not in the range)."""

    algorithmic: float | None
    information_theoretic: float | None


def find_transitions(
    prior: Prior,
    channel: Channel,
    alpha_range: tuple[float, float],
    *,
    xtol: float = 1e-5,
    max_iter: int = 200_000,
    n_grid: int = 24,
) -> Transitions:
    """Locate the first-order transition of the state evolution in ``alpha_range``.

    * algorithmic ``α_alg``: the smallest ``α`` where the uninformed start reaches the
      informed fixed point (GAMP's threshold), by bisection;
    * information-theoretic ``α_IT``: where the two fixed points have equal free entropy,
      by Brent's method on the difference.

    For the binary prior with the noiseless sign channel the literature gives
    ``α_IT ≈ 1.249`` and ``α_alg ≈ 1.493``.
    """
    lo, hi = (float(x) for x in alpha_range)
    if not (0 < lo < hi and math.isfinite(hi)):
        raise ValueError(f"alpha_range must be (lo, hi) with 0 < lo < hi, got {alpha_range!r}")
    inp, out = _averages(prior, channel, 64)
    gap_tol = 1e-6 * inp.rho

    def branches(alpha: float) -> tuple[SEResult, SEResult]:
        a = np.asarray(alpha)
        res = []
        for init in ("uninformed", "informed"):
            q0, name = _start(inp, init, ())
            q, r, traj, conv, t = _iterate(inp, out, a, q0, 0.0, 1e-13, max_iter)
            res.append(_result(inp, out, alpha, q, r, traj, conv, t, name))
        return res[0], res[1]

    def merged(alpha: float) -> bool:
        u, i = branches(alpha)
        return abs(u.q - i.q) < gap_tol

    # α_alg: bisection on "the uninformed start reaches the informed branch".
    alg = None
    if merged(hi) and not merged(lo):
        a, b = lo, hi
        while b - a > xtol:
            m = 0.5 * (a + b)
            a, b = (a, m) if merged(m) else (m, b)
        alg = 0.5 * (a + b)

    # α_IT: sign change of f_informed - f_uninformed where both branches are distinct.
    upper = alg if alg is not None else hi
    grid = np.linspace(lo, upper, n_grid)
    diffs = []
    for g in grid:
        u, i = branches(float(g))
        diffs.append(None if abs(u.q - i.q) < gap_tol else i.free_entropy - u.free_entropy)
    it = None
    for (a, da), (b, db) in zip(zip(grid, diffs, strict=True), zip(grid[1:], diffs[1:],
                                                                   strict=True), strict=False):
        if da is not None and db is not None and da < 0 <= db:
            def gap(x: float) -> float:
                u, i = branches(x)
                return i.free_entropy - u.free_entropy

            it = float(brentq(gap, a, b, xtol=xtol))
            break
    return Transitions(alg, it)


def track(gamp_result: Any, prior: Prior, channel: Channel, alpha: float,
          *, damping: float | None = None, n_nodes: int = 64) -> dict[str, np.ndarray]:
    """State evolution of the same iterations as a GAMP run with ``x_true`` (math.md §3.4).

    GAMP starts from the prior mean, so SE starts from ``q_0 = (E w)²``; GAMP's damping of
    ``x̂`` is mirrored on ``q`` (exact for ``damping = 0``).

    Returns
    -------
    dict
        ``iteration`` (1, 2, ...), ``mse_gamp`` and ``mse_se``, ``overlap_gamp`` and
        ``q_se`` per iteration.
    """
    hist = gamp_result.history
    if "mse" not in hist:
        raise ValueError("track needs a GAMP result run with x_true (its history has no 'mse')")
    n = len(hist["mse"])
    beta = float(hist["damping"][0]) if damping is None and len(hist["damping"]) else (
        damping or 0.0)
    inp, out = _averages(prior, channel, n_nodes)
    q, _, traj, _, _ = _iterate(inp, out, np.asarray(alpha, dtype=float),
                                np.asarray(inp.q_min), beta, 0.0, n)
    q_se = traj.reshape(-1)[1 : n + 1]
    if q_se.size < n:
        q_se = np.concatenate([q_se, np.full(n - q_se.size, q_se[-1] if q_se.size else q)])
    return {
        "iteration": np.arange(1, n + 1),
        "mse_gamp": np.asarray(hist["mse"]),
        "mse_se": inp.rho - q_se,
        "overlap_gamp": np.asarray(hist["overlap"]),
        "q_se": q_se,
    }
