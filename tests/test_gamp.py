"""GAMP: exact fixed points, recovery, backends, dtypes, operators and input validation."""

import warnings

import array_api_strict as xs
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import aslinearoperator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

from deepgep.amp import (
    BernoulliGaussianPrior,
    BinaryPrior,
    GaussianChannel,
    GaussianMixturePrior,
    GaussianPrior,
    GenericChannel,
    ProbitChannel,
    gamp,
)


def _glm(rng, n, d, prior, channel):
    X = rng.standard_normal((n, d))
    w = prior.sample(d, rng)
    y = channel.sample(X @ w / np.sqrt(d), rng)
    return X, y, w


@pytest.mark.parametrize("variance", ["scalar", "vector"])
def test_gaussian_fixed_point_is_ridge(rng, variance):
    c, N = 1.5, 0.4
    prior, ch = GaussianPrior(), GaussianChannel(c, N)
    X, y, w = _glm(rng, 600, 300, prior, ch)
    res = gamp(X, y, prior, ch, tol=1e-13, max_iter=2000, variance=variance)
    assert res.converged
    ridge = Ridge(alpha=N / c**2, fit_intercept=False, solver="cholesky", tol=1e-14)
    ridge.fit(X / np.sqrt(X.shape[1]), y)
    # Bayes estimate of w is (ridge coefficients)/c (ridge fits the product c·w)
    np.testing.assert_allclose(c * res.x_hat, ridge.coef_, rtol=1e-6, atol=1e-9)


def test_noiseless_sign_channel_recovers_direction(rng):
    prior, ch = GaussianPrior(), ProbitChannel(1.0, 0.0)
    X, y, w = _glm(rng, 5000, 1000, prior, ch)
    res = gamp(X, y, prior, ch, max_iter=300)
    assert np.all(np.isfinite(res.x_hat)) and np.all(np.isfinite(res.x_var))
    cos = res.x_hat @ w / np.linalg.norm(res.x_hat) / np.linalg.norm(w)
    assert cos > 0.9


def test_bernoulli_gaussian_compressed_sensing(rng):
    prior = BernoulliGaussianPrior(0.1)
    ch = GaussianChannel(1.0, 1e-6)
    X, y, w = _glm(rng, 1000, 2000, prior, ch)
    res = gamp(X, y, prior, ch, max_iter=500, damping=0.2)
    assert np.mean((res.x_hat - w) ** 2) < 1e-4


def test_binary_prior_and_multi_target(rng):
    """k targets share the passes over X and give the same answer as k separate runs."""
    prior, ch = BinaryPrior(), GaussianChannel(1.0, 0.3)
    n, d, k = 800, 400, 3
    X = rng.standard_normal((n, d))
    W = prior.sample((d, k), rng)
    Y = ch.sample(X @ W / np.sqrt(d), rng)
    joint = gamp(X, Y, prior, ch, tol=1e-10, max_iter=500)
    assert joint.x_hat.shape == (d, k)
    for j in range(k):
        single = gamp(X, Y[:, j], prior, ch, tol=1e-10, max_iter=500)
        np.testing.assert_allclose(joint.x_hat[:, j], single.x_hat, atol=1e-8)
        assert np.mean(np.sign(single.x_hat) != W[:, j]) < 0.05


def _strict(a):
    return xs.asarray(a)


CASES = [
    (GaussianPrior(), GaussianChannel(0.8, 0.3)),
    (GaussianPrior(), ProbitChannel(1.0, 0.1)),
    (BernoulliGaussianPrior(0.3), GaussianChannel(1.0, 0.05)),
    (GaussianMixturePrior(), GenericChannel("tanh", 1.0, 0.05, 0.1, n_nodes=32)),
    (BinaryPrior(), ProbitChannel(1.0, 0.0)),
]


@pytest.mark.parametrize("prior,ch", CASES, ids=lambda o: type(o).__name__)
def test_numpy_and_array_api_strict_agree(prior, ch):
    rng = np.random.default_rng(1)
    X, y, w = _glm(rng, 300, 150, prior, ch)
    ref = gamp(X, y, prior, ch, max_iter=30, tol=1e-12, x_true=w, warn=False)
    out = gamp(_strict(X), _strict(y), prior, ch, max_iter=30, tol=1e-12, x_true=_strict(w),
               warn=False)
    assert isinstance(out.x_hat, type(_strict(y)))
    np.testing.assert_allclose(np.from_dlpack(out.x_hat), ref.x_hat, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.from_dlpack(out.x_var), ref.x_var, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.history["mse"], ref.history["mse"], rtol=1e-10)


@pytest.mark.parametrize("prior,ch", CASES[:3], ids=lambda o: type(o).__name__)
def test_float32_stays_float32(prior, ch):
    rng = np.random.default_rng(2)
    X, y, w = _glm(rng, 800, 400, prior, ch)
    r64 = gamp(X, y, prior, ch, max_iter=25, tol=1e-12, warn=False)
    r32 = gamp(X.astype(np.float32), y.astype(np.float32), prior, ch, max_iter=25, tol=1e-12,
               warn=False)
    assert r32.x_hat.dtype == np.float32 and r32.x_var.dtype == np.float32
    assert r32.omega.dtype == np.float32
    np.testing.assert_allclose(r32.x_hat, r64.x_hat, atol=1e-4)


def test_sparse_and_linear_operator_inputs(rng):
    prior, ch = GaussianPrior(), GaussianChannel(1.0, 0.2)
    X, y, w = _glm(rng, 500, 250, prior, ch)
    dense = gamp(X, y, prior, ch, tol=1e-12, max_iter=500)
    sparse = gamp(csr_matrix(X), y, prior, ch, tol=1e-12, max_iter=500)
    np.testing.assert_allclose(sparse.x_hat, dense.x_hat, atol=1e-9)
    op = aslinearoperator(X)
    op.frobenius_norm_sq = float(np.sum(X * X))
    lin = gamp(op, y, prior, ch, tol=1e-12, max_iter=500)
    np.testing.assert_allclose(lin.x_hat, dense.x_hat, atol=1e-9)
    # Without a given norm, Hutchinson's estimate: the fixed point (ridge) is unchanged.
    est = gamp(aslinearoperator(X), y, prior, ch, tol=1e-12, max_iter=500)
    np.testing.assert_allclose(est.x_hat, dense.x_hat, atol=1e-7)


def test_history_and_callback(rng):
    prior, ch = GaussianPrior(), GaussianChannel(1.0, 0.1)
    X, y, w = _glm(rng, 400, 200, prior, ch)
    seen = []
    res = gamp(X, y, prior, ch, x_true=w, callback=lambda t, s: seen.append(t) or t == 5)
    assert res.n_iter == 5 and seen == [1, 2, 3, 4, 5]
    for key in ("delta", "mean_var", "overlap", "q", "mse"):
        assert len(res.history[key]) == 5
    assert res.history["mse"][-1] < res.history["mse"][0]


def test_convergence_warning(rng):
    prior, ch = GaussianPrior(), ProbitChannel(1.0, 0.0)
    X, y, w = _glm(rng, 400, 200, prior, ch)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = gamp(X, y, prior, ch, max_iter=3)
    assert not res.converged and res.n_iter == 3


BAD = [
    (lambda X, y: (X[0], y), {}, "2-D"),
    (lambda X, y: (X, y[:-1]), {}, "y must have shape"),
    (lambda X, y: (np.where(np.eye(*X.shape) > 0, np.nan, X), y), {}, "NaN"),
    (lambda X, y: (X, np.where(np.arange(len(y)) == 3, np.inf, y)), {}, "y contains NaN"),
    (lambda X, y: (X[:0], y[:0]), {}, "non-empty"),
    (lambda X, y: (X.astype(str), y), {}, "dtype"),
    (lambda X, y: (X, y), {"max_iter": 0}, "max_iter"),
    (lambda X, y: (X, y), {"damping": 1.5}, "damping"),
    (lambda X, y: (X, y), {"variance": "diag"}, "variance"),
    (lambda X, y: (X, y), {"tol": -1.0}, "tol"),
]


@pytest.mark.parametrize("make,kw,msg", BAD)
def test_bad_inputs(rng, make, kw, msg):
    X = rng.standard_normal((20, 10))
    y = rng.standard_normal(20)
    Xb, yb = make(X, y)
    with pytest.raises(ValueError, match=msg):
        gamp(Xb, yb, GaussianPrior(), GaussianChannel(), **kw)


def test_sign_channel_rejects_non_pm1_labels(rng):
    X = rng.standard_normal((20, 10))
    with pytest.raises(ValueError, match="-1 or \\+1"):
        gamp(X, np.arange(20.0), GaussianPrior(), ProbitChannel())


def test_no_nan_under_extreme_noiseless_data(rng):
    prior, ch = GaussianPrior(), ProbitChannel(1.0, 0.0)
    X, y, w = _glm(rng, 20000, 200, prior, ch)  # α = 100, extremely confident
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = gamp(X, y, prior, ch, max_iter=100)
    assert np.all(np.isfinite(res.x_hat))
    assert res.x_hat @ w / np.linalg.norm(res.x_hat) / np.linalg.norm(w) > 0.99


@pytest.mark.parametrize("layout", ["C", "F", "float32", "sparse", "operator"])
def test_operator_column_sums_and_frobenius(layout, monkeypatch):
    """One set-up pass gives Xᵀ1 and ‖X‖_F² (several row blocks here); the centred operator's
    norm equals that of the explicitly centred matrix."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import aslinearoperator

    import deepgep.amp.operators as operators

    monkeypatch.setattr(operators, "_SETUP_BLOCK_BYTES", 7 * 50 * 8)  # 7-row blocks
    rng = np.random.default_rng(0)
    X = rng.standard_normal((103, 50)) + 0.5
    given = {"C": X, "F": np.asfortranarray(X), "float32": X.astype(np.float32),
             "sparse": csr_matrix(X), "operator": aslinearoperator(X)}[layout]
    op = operators.as_operator(given)
    tol = 1e-5 if layout == "float32" else 1e-12
    np.testing.assert_allclose(op.column_sums(), X.sum(axis=0), rtol=tol, atol=tol)
    if layout != "operator":  # an opaque operator's norm is a Hutchinson estimate
        assert op.frobenius_sq == pytest.approx(np.sum(X * X), rel=tol)
        mu = X.mean(axis=0)
        centred = operators.CenteredOperator(given, mu.astype(given.dtype), base=op)
        assert centred.frobenius_sq == pytest.approx(np.sum((X - mu) ** 2), rel=100 * tol)
