"""Scalar-channel averages of the prior and channel contracts (math.md §3.2–3.3).

Every quantity of state evolution and of the replica formula is an average of the *same*
functions GAMP uses (``prior.denoise``/``log_partition``, ``channel.output``/
``log_partition``/``predictive``/``predict``) over the scalar channels, by vectorised
Gauss–Hermite quadrature. Closed forms (:mod:`.closed_forms`) override them where they
exist; tests check that both agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..amp.channels import Channel, GenericChannel
from ..amp.priors import Prior
from ..quadrature import gauss_hermite
from . import closed_forms

__all__ = ["InputAverages", "OutputAverages"]

_CHUNK_ELEMENTS = 2_000_000


def _wsum(w: np.ndarray, f: np.ndarray, axis: Any) -> np.ndarray:
    """Σ w·f that treats zero-weight terms as zero even where f is ±inf."""
    return np.sum(np.where(w > 0, w * np.where(w > 0, f, 0.0), 0.0), axis=axis)


class InputAverages:
    """Averages over the input scalar channel ``Y0 = √r W0 + Z0``, ``W0 ~ P0``.

    Parameters
    ----------
    prior : Prior
    n_nodes : int
        Gauss–Hermite nodes for ``Z0`` and for Gaussian parts of ``P0``.
    closed_form : bool
        Use a closed form where :mod:`.closed_forms` has one.
    """

    def __init__(self, prior: Prior, n_nodes: int = 64, closed_form: bool = True) -> None:
        self.prior = prior
        self.rho = prior.second_moment
        self.q_min = prior.mean**2
        self.closed = closed_forms.input_closed_form(prior) if closed_form else None
        self._w_pts, self._w_wts = prior.atoms(n_nodes)
        self._z, self._zw = gauss_hermite(n_nodes)

    def _grid(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = np.asarray(r, dtype=float)[..., None, None]
        B = np.sqrt(r) * self._z[None, :] + r * self._w_pts[:, None]
        weights = self._w_wts[:, None] * self._zw[None, :]
        return r, B, weights

    def overlap(self, r: Any) -> np.ndarray:
        """``q = ρ_w - mmse(r) = E[W0 f_in(r, √r Z0 + r W0)]`` (math.md §3.2)."""
        if self.closed is not None:
            return self.closed.overlap(np.asarray(r, dtype=float))
        rr, B, wts = self._grid(r)
        mean, _ = self.prior.denoise(rr, B)
        return np.sum(wts * self._w_pts[:, None] * mean, axis=(-2, -1))

    def free_entropy(self, r: Any) -> np.ndarray:
        """``ψ_P0(r) = E ln Z_in(r, √r Z0 + r W0)`` (math.md §3.2)."""
        if self.closed is not None:
            return self.closed.free_entropy(np.asarray(r, dtype=float))
        rr, B, wts = self._grid(r)
        return np.sum(wts * self.prior.log_partition(rr, B), axis=(-2, -1))


class OutputAverages:
    """Averages over the output scalar channel: ``V ~ N(0,1)``, ``ω = √q V``, and
    ``Y ~ P_out(· | ω + √(ρ-q) W*)`` (math.md §3.2).

    Parameters
    ----------
    channel : Channel
    rho : float
        Second moment ``ρ_w`` of the prior.
    n_nodes : int
        Gauss–Hermite nodes for ``V``.
    label_nodes : int
        Nodes of the predictive law of ``Y`` (continuous labels).
    closed_form : bool
        Use a closed form where :mod:`.closed_forms` has one.
    interpolate : bool
        Replace ``E g_out²`` and ``Ψ_out`` by Chebyshev interpolants in ``q`` on ``[0, ρ]``
        (degree ``interp_degree``), built from the exact averages; used by
        :func:`~deepgep.state_evolution.curve` for quadrature-heavy channels.
    """

    def __init__(
        self,
        channel: Channel,
        rho: float,
        n_nodes: int = 64,
        label_nodes: int = 24,
        closed_form: bool = True,
        interpolate: bool = False,
        interp_degree: int = 48,
    ) -> None:
        self.channel = channel
        self.rho = float(rho)
        self.closed = closed_forms.output_closed_form(channel) if closed_form else None
        if isinstance(channel, GenericChannel) and n_nodes == 64:
            n_nodes = 40
        self._v, self._vw = gauss_hermite(n_nodes)
        self.label_nodes = label_nodes
        self._interp: tuple[Any, Any] | None = None
        if interpolate and self.closed is None:
            self._interp = self._build_interpolants(interp_degree)

    # -- the generic averages ------------------------------------------------------------
    def _clip(self, q: Any) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        return np.clip(q, 0.0, self.rho * (1.0 - 1e-12))

    def _chunks(self, q: np.ndarray) -> int:
        per_q = len(self._v) * self.label_nodes * max(self.label_nodes // 2, 2)
        if isinstance(self.channel, GenericChannel):
            per_q *= self.channel.n_nodes
        return max(1, _CHUNK_ELEMENTS // max(per_q, 1))

    def _generic(self, q: Any, what: Callable[..., np.ndarray]) -> np.ndarray:
        q = self._clip(q)
        flat = q.reshape(-1)
        out = np.empty_like(flat)
        step = self._chunks(flat)
        for s in range(0, flat.size, step):
            qc = flat[s : s + step]
            omega = np.sqrt(qc)[:, None] * self._v[None, :]
            Vp = (self.rho - qc)[:, None, None]
            ys, ws = self.channel.predictive(omega, (self.rho - qc)[:, None], self.label_nodes)
            val = what(ys, omega[..., None], Vp)
            out[s : s + step] = np.sum(self._vw * _wsum(ws, val, axis=-1), axis=-1)
        return out.reshape(q.shape)

    def _generic_hat(self, q: Any) -> np.ndarray:
        return self._generic(q, lambda y, w, V: self.channel.output(y, w, V)[0] ** 2)

    def _generic_psi(self, q: Any) -> np.ndarray:
        return self._generic(q, self.channel.log_partition)

    def _build_interpolants(self, degree: int) -> tuple[Any, Any]:
        k = np.arange(degree + 1)
        x = np.cos(np.pi * (k + 0.5) / (degree + 1))
        lo, hi = 0.0, self.rho * (1.0 - 1e-12)
        qs = lo + (hi - lo) * (x + 1.0) / 2.0
        cheb = np.polynomial.chebyshev.Chebyshev
        hat = cheb.fit(qs, self._generic_hat(qs), degree, domain=[lo, hi])
        psi = cheb.fit(qs, self._generic_psi(qs), degree, domain=[lo, hi])
        return hat, psi

    # -- the public averages -------------------------------------------------------------
    def hat(self, q: Any) -> np.ndarray:
        """``E[g_out(Y, √q V, ρ-q)²]``, so that ``q̂ = α · hat(q)`` (math.md §3.3)."""
        if self.closed is not None:
            return self.closed.hat(self._clip(q), self.rho)
        if self._interp is not None:
            return self._interp[0](self._clip(q))
        return self._generic_hat(q)

    def free_entropy(self, q: Any) -> np.ndarray:
        """``Ψ_out(q; ρ) = E ln Z_out(Y, √q V, ρ-q)`` (math.md §3.2)."""
        if self.closed is not None:
            return self.closed.free_entropy(self._clip(q), self.rho)
        if self._interp is not None:
            return self._interp[1](self._clip(q))
        return self._generic_psi(q)

    def full_information(self) -> float:
        """``Ψ_out(ρ; ρ) = E ln P_out(Y | √ρ V)`` (the entropy term of the MI, math.md §3.3)."""
        if self.closed is not None:
            return float(self.closed.free_entropy(np.asarray(self.rho), self.rho, exact=True))
        omega = math.sqrt(self.rho) * self._v[None, :]
        ys, ws = self.channel.predictive(omega, np.zeros((1, 1)), self.label_nodes)
        val = self.channel.log_partition(ys, omega[..., None], np.zeros((1, 1, 1)))
        return float(np.sum(self._vw * _wsum(ws, val, axis=-1)))

    def label_second_moment(self) -> float:
        """``E[Y²]`` under the teacher (pre-activation variance ``ρ``)."""
        ys, ws = self.channel.predictive(np.zeros(1), np.full(1, self.rho), 64)
        return float(np.sum(ws * ys * ys))

    def generalization_error(self, q: Any) -> np.ndarray:
        """``E(Y - Ŷ)² = E[Y²] - E_V[E(Y | √q V, ρ-q)²]`` with the posterior-mean predictor
        (the [C25] definition, math.md §3.3)."""
        if self.closed is not None and hasattr(self.closed, "generalization_error"):
            return self.closed.generalization_error(self._clip(q), self.rho)
        q = self._clip(q)
        omega = np.sqrt(q)[..., None] * self._v
        pred = self.channel.predict(omega, (self.rho - q)[..., None])
        return self.label_second_moment() - np.sum(self._vw * pred * pred, axis=-1)

    def classification_error(self, q: Any) -> np.ndarray | None:
        """``P(sign Ŷ ≠ Y)`` for ±1 channels (``None`` otherwise)."""
        if not self.channel.binary:
            return None
        if self.closed is not None and hasattr(self.closed, "classification_error"):
            return self.closed.classification_error(self._clip(q), self.rho)
        q = self._clip(q)
        omega = np.sqrt(q)[..., None] * self._v
        p = self.channel.predict_proba(omega, (self.rho - q)[..., None])
        return np.sum(self._vw * np.minimum(p, 1.0 - p), axis=-1)
