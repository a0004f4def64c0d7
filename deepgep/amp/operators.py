"""Linear operators for GAMP: dense arrays of any namespace, SciPy sparse matrices, and any
object with ``matvec``/``rmatvec`` (e.g. :class:`scipy.sparse.linalg.LinearOperator`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import cache_block_bytes, namespace

__all__ = ["Operator", "CenteredOperator", "as_operator"]

_FROB_BLOCK_ELEMENTS = 2**18  # temporaries stay ~2 MiB whatever the size of X
_HUTCHINSON_PROBES = 64


class Operator:
    """A uniform view of the design matrix ``X`` (``n × d``) for the solver.

    Attributes
    ----------
    shape : tuple
    dense : array or None
        The dense array when ``X`` is one (enables the fused and vector-variance paths).
    frobenius_sq : float
        ``‖X‖_F²``: computed directly for dense and sparse matrices (in row blocks, no copy
        of ``X``), taken from ``X.frobenius_norm_sq`` when present, else estimated with
        64 Rademacher probes (Hutchinson) for opaque operators.
    """

    def __init__(self, X: Any) -> None:
        self.raw = X
        self.shape = tuple(int(s) for s in X.shape)
        self.dense = None
        self.sparse = False
        if isinstance(X, np.ndarray) or hasattr(X, "__array_namespace__") or \
                type(X).__module__.startswith("cupy"):
            self.dense = X
        elif _is_scipy_sparse(X):
            self.sparse = True
        elif not (hasattr(X, "matvec") and hasattr(X, "rmatvec")) and not isinstance(
                self, CenteredOperator):
            raise ValueError(
                "X must be a 2-D array, a scipy.sparse matrix or a linear operator with "
                f"matvec/rmatvec; got {type(X).__name__}"
            )
        self._frob: float | None = None
        self._col_sums: Any = None

    def matvec(self, v: Any) -> Any:
        """``X @ v`` (``v`` may be ``(d,)`` or ``(d, k)``)."""
        if self.dense is not None or self.sparse:
            return self.raw @ v
        return _apply(self.raw.matvec, self.raw.matmat if hasattr(self.raw, "matmat") else None, v)

    def rmatvec(self, u: Any) -> Any:
        """``Xᵀ @ u`` (``u`` may be ``(n,)`` or ``(n, k)``)."""
        if self.dense is not None:
            return self.raw.T @ u
        if self.sparse:
            return self.raw.T @ u
        rm = getattr(self.raw, "rmatmat", None)
        return _apply(self.raw.rmatvec, rm, u)

    @property
    def frobenius_sq(self) -> float:
        if self._frob is None:
            self._frob = self._compute_frob()
        return self._frob

    def column_sums(self) -> Any:
        """``Xᵀ 1`` (cached). For a C-contiguous NumPy ``X`` whose ``‖X‖_F²`` is not known yet,
        the same pass computes both (each row block is summed twice while in cache), so the
        set-up reads ``X`` once."""
        if self._col_sums is None:
            X, n = self.raw, self.shape[0]
            if isinstance(X, np.ndarray) and X.flags.c_contiguous and self._frob is None:
                self._col_sums, self._frob = _column_sums_and_frob(X)
            elif self.dense is not None:
                self._col_sums = namespace(X).ones(n, dtype=X.dtype) @ X
            elif self.sparse:
                self._col_sums = np.asarray(X.T @ np.ones(n)).ravel()
            else:
                self._col_sums = np.asarray(self.rmatvec(np.ones(n)))
        return self._col_sums

    def _compute_frob(self) -> float:
        X = self.raw
        if self.dense is not None:
            if isinstance(X, np.ndarray) and X.flags.c_contiguous:
                flat = X.reshape(-1)  # a view: one BLAS dot, no temporary
                return float(flat @ flat)
            xp = namespace(X)
            total = 0.0
            rows = max(1, _FROB_BLOCK_ELEMENTS // max(self.shape[1], 1))
            for start in range(0, self.shape[0], rows):
                block = X[start : min(start + rows, self.shape[0]), ...]
                total += float(xp.sum(block * block))
            return total
        if self.sparse:
            return float(X.multiply(X).sum())
        if hasattr(X, "frobenius_norm_sq"):
            return float(X.frobenius_norm_sq)
        rng = np.random.default_rng(0)
        d = self.shape[1]
        est = 0.0
        for _ in range(_HUTCHINSON_PROBES):
            r = rng.choice(np.array([-1.0, 1.0]), size=d)
            u = np.asarray(X.matvec(r))
            est += float(u @ u)
        return est / _HUTCHINSON_PROBES

    def squared(self) -> Any:
        """The elementwise square ``X ∘ X`` (vector-variance GAMP; dense or sparse only)."""
        if self.dense is not None:
            return self.raw * self.raw
        if self.sparse:
            return self.raw.multiply(self.raw).tocsr()
        raise ValueError('variance="vector" needs X as a dense array or a sparse matrix')


class CenteredOperator(Operator):
    """``X - 1 μᵀ`` (columns centred by ``μ``) without forming it: ``(X - 1μᵀ) v = X v - 1 (μ·v)``
    and ``(X - 1μᵀ)ᵀ u = Xᵀ u - μ Σu``; ``‖X - 1μᵀ‖_F² = ‖X‖_F² - 2 μ·(Xᵀ1) + n ‖μ‖²``.

    Parameters
    ----------
    X : dense array or sparse matrix
    center : array (d,)
        The column offsets ``μ`` (e.g. the column means).
    """

    def __init__(self, X: Any, center: Any, base: Operator | None = None) -> None:
        super().__init__(X)
        self.center = center
        self.dense = None  # not a plain array: the solver uses matvec/rmatvec
        # ‖X‖_F² and Xᵀ1 of the uncentred X, shared with (and cached by) the caller's operator
        self._base = base if base is not None and base.raw is X else Operator(X)

    def matvec(self, v: Any) -> Any:
        shift = self.center @ v
        return self.raw @ v - shift

    def rmatvec(self, u: Any) -> Any:
        xp = namespace(u)
        total = xp.sum(u, axis=0)
        if getattr(u, "ndim", 1) == 1:
            return self.raw.T @ u - self.center * total
        return self.raw.T @ u - self.center[:, None] * total[None, :]

    def _compute_frob(self) -> float:
        col_sums = self._base.column_sums()  # first: one pass gives both for NumPy arrays
        base = self._base.frobenius_sq
        n = self.shape[0]
        c = self.center
        return float(base - 2.0 * float(c @ col_sums) + n * float(c @ c))

    def squared(self) -> Any:
        if self.sparse:
            dense = self.raw.toarray() - self.center
        else:
            dense = self.raw - self.center
        return dense * dense


_SETUP_BLOCK_BYTES: int | None = None  # None: backend.cache_block_bytes()


def _column_sums_and_frob(X: np.ndarray) -> tuple[np.ndarray, float]:
    """``Xᵀ1`` and ``‖X‖_F²`` of a C-contiguous array in one pass over row blocks (the norm
    is accumulated in float64 across blocks)."""
    n, d = X.shape
    rows = max(1, (_SETUP_BLOCK_BYTES or cache_block_bytes()) // max(1, d * X.itemsize))
    ones = np.ones(min(rows, n), dtype=X.dtype)
    sums = np.zeros(d, dtype=X.dtype)
    frob = 0.0
    for start in range(0, n, rows):
        block = X[start : start + rows]
        sums += ones[: block.shape[0]] @ block
        flat = block.reshape(-1)  # a view of the contiguous block
        frob += float(flat @ flat)
    return sums, frob


def _apply(vec: Any, mat: Any, v: Any) -> Any:
    if getattr(v, "ndim", 1) == 1:
        return np.asarray(vec(v))
    if mat is not None:
        return np.asarray(mat(v))
    return np.stack([np.asarray(vec(v[:, j])) for j in range(v.shape[1])], axis=1)


def _is_scipy_sparse(X: Any) -> bool:
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover
        return False
    return sp.issparse(X)


def as_operator(X: Any) -> Operator:
    """Wrap ``X`` as an :class:`Operator`."""
    return X if isinstance(X, Operator) else Operator(X)
