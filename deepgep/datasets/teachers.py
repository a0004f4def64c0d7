"""Teachers that generate data: the deep random network of [C25] (math.md §1.1) and a GLM."""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..amp.channels import Channel
from ..amp.priors import Prior
from ..backend import usable_cpus
from ..equivalence.activations import resolve_activations
from ..equivalence.reduction import EquivalentGLM, equivalent_glm, resolve_readout

__all__ = ["DeepTeacher", "GLMTeacher", "make_deep_teacher"]

_BATCH_ELEMENTS = 4_000_000  # rows per batch ≈ this / widest layer


def _seed(random_state: Any) -> int | None | np.random.SeedSequence:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return random_state
    raise ValueError(f"random_state must be None, an int or a numpy Generator, got "
                     f"{random_state!r}")


def _generators(seed: Any, k: int, backend: str) -> list[Any]:
    children = np.random.SeedSequence(seed).spawn(k)
    if backend == "cupy":
        import cupy

        return [cupy.random.default_rng(int(c.generate_state(1, np.uint64)[0])) for c in children]
    return [np.random.default_rng(c) for c in children]


_RNG_CHUNK = 8192  # rows per independently seeded chunk of random numbers
_THREADS = usable_cpus()
_PARALLEL_MIN_ELEMENTS = 1 << 18  # below this, threads cost more than they save


def _tanh_inplace(h: np.ndarray, pool: ThreadPoolExecutor | None) -> None:
    """``h ← tanh(h)`` on NumPy, by row ranges in ``pool``'s threads (ufuncs release the
    GIL); the result does not depend on the split."""
    n = h.shape[0]
    if pool is None or h.size < _PARALLEL_MIN_ELEMENTS or n < 2:
        np.tanh(h, out=h)
        return
    cuts = [n * k // _THREADS for k in range(_THREADS + 1)]
    parts = [h[lo:hi] for lo, hi in zip(cuts[:-1], cuts[1:], strict=True) if hi > lo]
    list(pool.map(lambda part: np.tanh(part, out=part), parts))


def _chunked_normal(backend: str, out: Any, root: Any, stream: int,
                    pool: ThreadPoolExecutor | None = None) -> Any:
    """Fill ``out`` with standard normals, chunk ``c`` of rows drawn from the generator seeded
    by ``(root, stream, c)``: reproducible whatever the batching and the threads (``pool``:
    NumPy's generators release the GIL while filling, so chunks fill in parallel)."""
    n = out.shape[0]
    starts = list(range(0, n, _RNG_CHUNK))

    def fill(c: int) -> None:
        lo = starts[c]
        hi = min(lo + _RNG_CHUNK, n)
        seq = np.random.SeedSequence([*np.atleast_1d(root).tolist(), stream, c])
        if backend == "cupy":
            import cupy

            gen = cupy.random.default_rng(int(seq.generate_state(1, np.uint64)[0]))
            out[lo:hi] = gen.standard_normal(out[lo:hi].shape, dtype=out.dtype)
        else:
            np.random.default_rng(seq).standard_normal(dtype=out.dtype, out=out[lo:hi])

    if backend == "numpy" and pool is not None and len(starts) > 1:
        list(pool.map(fill, range(len(starts))))
    else:
        for c in range(len(starts)):
            fill(c)
    return out


def _backend(name: str) -> Any:
    if name == "numpy":
        return np
    if name == "cupy":
        try:
            import cupy
        except ImportError as exc:
            raise ValueError('backend="cupy" needs CuPy (pip install "deepgep[gpu]")') from exc
        return cupy
    raise ValueError(f'backend must be "numpy" or "cupy", got {name!r}')


class DeepTeacher:
    """The deep random-network teacher of [C25] (math.md §1.1).

    ``x ~ N(0, I_{d0})``; ``h_ℓ = φ(W_ℓ h_{ℓ-1} / √d_{ℓ-1})`` with ``W_ℓ`` i.i.d. N(0,1) and no
    biases; output ``s = ρ_out a·h_L/√d_L + √ε_out ξ``; labels ``y = f(s) + √Δ ε`` for a
    ``linear`` or callable readout ``f``, and ``y = sign(s + √Δ ε)`` for ``sign`` (label noise
    before the sign, as in the equivalent probit channel).

    Parameters
    ----------
    n_features : int
        Input dimension ``d0``.
    hidden_widths : sequence of int
        ``d1, ..., dL`` (empty for a GLM teacher with ``a`` on the inputs).
    activation : str, callable or list
        Hidden activation(s).
    readout : {"linear", "sign"}, str or callable
    label_noise : float
        ``Δ >= 0``.
    rho_out, eps_out : float
    random_state : None, int or numpy Generator
        Seeds the weights.
    dtype : numpy dtype
        ``float64`` or ``float32``.
    backend : {"numpy", "cupy"}
        Where weights and samples are generated (CuPy: on the device; its random streams
        differ from NumPy's, so samples are reproducible within a backend, not across).
    """

    def __init__(
        self,
        n_features: int,
        hidden_widths: Sequence[int] = (),
        activation: Any = "tanh",
        readout: Any = "linear",
        label_noise: float = 0.0,
        rho_out: float = 1.0,
        eps_out: float = 0.0,
        random_state: Any = None,
        dtype: Any = np.float64,
        backend: str = "numpy",
    ) -> None:
        if not isinstance(n_features, (int, np.integer)) or isinstance(n_features, bool) \
                or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        widths = list(hidden_widths) if isinstance(hidden_widths, Sequence) else None
        if widths is None or any(
            not isinstance(w, (int, np.integer)) or isinstance(w, bool) or w < 1 for w in widths
        ):
            raise ValueError(f"hidden_widths must be a sequence of positive integers, got "
                             f"{hidden_widths!r}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.xp = _backend(backend)
        self.backend = backend
        self.n_features = int(n_features)
        self.hidden_widths = tuple(int(w) for w in widths)
        self.activation = activation
        self.readout = readout
        self.dtype = np.dtype(dtype)
        # Validates activation/readout/noise and gives the theory in one place.
        self._glm = equivalent_glm(activation, len(widths), readout, label_noise, rho_out,
                                   eps_out)
        self.label_noise = self._glm.label_noise
        self.rho_out, self.eps_out = self._glm.rho_out, self._glm.eps_out
        self._named_layers = resolve_activations(activation, len(widths))
        self._readout_name, readout_fn = resolve_readout(readout)
        self._readout_fn = self._glm.channel.f if readout_fn is not None else None
        rngs = _generators(_seed(random_state), 2, backend)
        dims = (self.n_features, *self.hidden_widths)
        self.weights = [
            rngs[0].standard_normal((dims[k + 1], dims[k]), dtype=self.dtype)
            for k in range(len(dims) - 1)
        ]
        self.readout_weights = rngs[1].standard_normal(dims[-1], dtype=self.dtype)

    # -- theory --------------------------------------------------------------------------
    def equivalent_glm(self) -> EquivalentGLM:
        """The equivalent GLM of this teacher's architecture (math.md §2.4)."""
        return self._glm

    def effective_direction(self) -> Any:
        """``W¹ᵀ ⋯ Wᴸᵀ a``, normalised to norm ``√d0``: the direction of the teacher's linear
        part, comparable with a standard Gaussian weight vector of the equivalent GLM."""
        u = self.readout_weights
        for W in reversed(self.weights):
            u = W.T @ u
        xp = self.xp
        return u * (math.sqrt(self.n_features) / float(xp.linalg.norm(u)))

    # -- data ----------------------------------------------------------------------------
    def _batch_rows(self, batch_size: int | None) -> int:
        if batch_size is not None:
            if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
                raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
            return int(batch_size)
        widest = max((self.n_features, *self.hidden_widths))
        return max(1, _BATCH_ELEMENTS // widest)

    def output(self, X: Any, layer_maps: list[Any] | None = None,
               pool: ThreadPoolExecutor | None = None) -> Any:
        """Readout pre-activation ``ρ_out a·h_L(x)/√d_L`` (without the ``ε_out`` noise).

        ``layer_maps`` (from :meth:`_layer_maps`) saves recomputing the scaled weights
        when the caller works in batches; ``pool`` runs NumPy's tanh in threads."""
        h = X
        maps = self._layer_maps() if layer_maps is None else layer_maps
        for M, (name, fn) in zip(maps, self._named_layers, strict=True):
            h = h @ M
            if name == "tanh" and self.xp is np:
                _tanh_inplace(h, pool)  # in place: no second batch-sized temporary
            else:
                h = fn(h)
        return (h @ self.readout_weights) * (self.rho_out / math.sqrt(h.shape[1]))

    def _layer_maps(self) -> list[Any]:
        """``W_ℓᵀ/√d_{ℓ-1}`` per layer: the 1/√fan-in folded into the (small) weights, not
        applied to every (large) batch of pre-activations."""
        return [W.T * (1.0 / math.sqrt(W.shape[1])) for W in self.weights]

    def _labels(self, s: Any, noise: Any) -> Any:
        xp = self.xp
        if self._readout_name == "sign":
            if noise is not None:
                s = s + noise
            one = xp.ones_like(s)
            return xp.where(s >= 0, one, -one)
        y = s if self._readout_fn is None else self._readout_fn(s)
        return y + noise if noise is not None else y

    def clean_output(self, X: Any, batch_size: int | None = None) -> Any:
        """Labels before label noise: ``f(s)`` (``sign(s)`` for the sign readout), with the
        ``ε_out`` noise left out too (it is part of the teacher's randomness)."""
        X = self._check_X(X)
        rows = self._batch_rows(batch_size)
        maps = self._layer_maps()
        parts = [self._labels(self.output(X[s : s + rows], maps), None)
                 for s in range(0, X.shape[0], rows)]
        return self.xp.concatenate(parts) if parts else self.xp.zeros(0, dtype=self.dtype)

    def _check_X(self, X: Any) -> Any:
        if getattr(X, "ndim", None) != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n, {self.n_features}), got "
                             f"{getattr(X, 'shape', None)}")
        return X

    def sample(self, n_samples: int, random_state: Any = None,
               batch_size: int | None = None) -> tuple[Any, Any]:
        """Draw ``n_samples`` pairs ``(x, y)``, in row batches (memory beyond X and y is
        O(batch × width)); batching does not change the result for a given seed.

        Returns
        -------
        X : array (n_samples, n_features)
        y : array (n_samples,)
        """
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        xp = self.xp
        rows = self._batch_rows(batch_size)
        root = np.random.SeedSequence(_seed(random_state)).entropy
        X = xp.empty((n_samples, self.n_features), dtype=self.dtype)
        y = xp.empty(n_samples, dtype=self.dtype)
        # Randomness first, by fixed chunks of rows with their own seeds (the batch size does
        # not change it), straight into X.
        with ThreadPoolExecutor(_THREADS) as pool:
            _chunked_normal(self.backend, X, root, 0, pool)
            eps = _chunked_normal(self.backend, xp.empty(n_samples, dtype=self.dtype), root,
                                  1) if self.eps_out > 0 else None
            lab = _chunked_normal(self.backend, xp.empty(n_samples, dtype=self.dtype), root,
                                  2) if self.label_noise > 0 else None
            maps = self._layer_maps()
            for s in range(0, n_samples, rows):
                e = min(s + rows, n_samples)
                out = self.output(X[s:e], maps, pool)
                if eps is not None:
                    out = out + math.sqrt(self.eps_out) * eps[s:e]
                noise = math.sqrt(self.label_noise) * lab[s:e] if lab is not None else None
                y[s:e] = self._labels(out, noise)
        return X, y

    def __repr__(self) -> str:
        return (f"DeepTeacher(n_features={self.n_features}, hidden_widths={self.hidden_widths}, "
                f"activation={self.activation!r}, readout={self.readout!r}, "
                f"label_noise={self.label_noise})")


class GLMTeacher:
    """A GLM teacher (depth 0): ``w ~ prior``, ``y ~ channel(· | X w / √d)``.

    Parameters
    ----------
    prior : Prior
    channel : Channel
    n_features : int
    random_state : None, int or numpy Generator
    """

    def __init__(self, prior: Prior, channel: Channel, n_features: int,
                 random_state: Any = None) -> None:
        if not isinstance(prior, Prior) or not isinstance(channel, Channel):
            raise ValueError("GLMTeacher needs a Prior and a Channel object")
        if not isinstance(n_features, (int, np.integer)) or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        self.prior, self.channel, self.n_features = prior, channel, int(n_features)
        self.weights = prior.sample(self.n_features, np.random.default_rng(_seed(random_state)))

    def sample(self, n_samples: int, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(X, y)`` with standard Gaussian ``X``."""
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        g_x, g_y = _generators(_seed(random_state), 2, "numpy")
        X = g_x.standard_normal((n_samples, self.n_features))
        z = X @ self.weights / math.sqrt(self.n_features)
        return X, self.channel.sample(z, g_y)


def make_deep_teacher(
    n_samples: int = 1000,
    n_features: int = 500,
    hidden_widths: Sequence[int] | None = None,
    activation: Any = "tanh",
    readout: Any = "linear",
    label_noise: float = 0.0,
    random_state: Any = None,
    return_teacher: bool = False,
    **kwargs: Any,
) -> Any:
    """Deep-teacher data in the style of :func:`sklearn.datasets.make_regression`.

    ``hidden_widths`` defaults to two layers of width ``n_features``. Returns ``(X, y)`` or,
    with ``return_teacher=True``, ``(X, y, teacher)``.
    """
    widths = (n_features, n_features) if hidden_widths is None else hidden_widths
    rng = np.random.default_rng(_seed(random_state))
    teacher = DeepTeacher(n_features, widths, activation, readout, label_noise,
                          random_state=int(rng.integers(2**63)), **kwargs)
    X, y = teacher.sample(n_samples, random_state=int(rng.integers(2**63)))
    return (X, y, teacher) if return_teacher else (X, y)
