"""Properties behind the performance work (no timings here: those live in benchmarks/):
the fused one-pass iteration equals the two-pass one, float32 end to end, multi-target,
and fitting allocates almost nothing beyond X."""

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from deepgep import GAMPClassifier, GAMPRegressor
from deepgep.amp import (
    BernoulliGaussianPrior,
    GaussianChannel,
    GaussianPrior,
    GenericChannel,
    ProbitChannel,
    gamp,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "prior,ch",
    [(GaussianPrior(), GaussianChannel(1.0, 0.2)),
     (GaussianPrior(), ProbitChannel(1.0, 0.05)),
     (BernoulliGaussianPrior(0.3), GaussianChannel(1.0, 0.05)),
     (GaussianPrior(), GenericChannel("tanh", 1.0, 0.05, 0.1, n_nodes=24))],
    ids=lambda o: type(o).__name__,
)
def test_fused_iteration_equals_two_pass(prior, ch):
    rng = np.random.default_rng(0)
    n, d = 1500, 700
    X = rng.standard_normal((n, d))
    w = prior.sample(d, rng)
    y = ch.sample(X @ w / np.sqrt(d), rng)
    a = gamp(X, y, prior, ch, fused=False, max_iter=25, warn=False, x_true=w)
    b = gamp(X, y, prior, ch, fused=True, max_iter=25, warn=False, x_true=w)
    np.testing.assert_allclose(b.x_hat, a.x_hat, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.x_var, a.x_var, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.history["mse"], a.history["mse"], rtol=1e-12)


def test_fused_multi_target_and_block_edges(rng):
    import deepgep.amp.solver as solver

    n, d, k = 1001, 300, 3  # n not a multiple of the block size
    X = rng.standard_normal((n, d))
    Y = X @ rng.standard_normal((d, k)) / np.sqrt(d) + 0.3 * rng.standard_normal((n, k))
    ch = GaussianChannel(1.0, 0.09)
    a = gamp(X, Y, GaussianPrior(), ch, fused=False, max_iter=15, warn=False)
    old = solver._FUSED_BLOCK_BYTES
    solver._FUSED_BLOCK_BYTES = 64 * d * 8  # 64-row blocks
    try:
        b = gamp(X, Y, GaussianPrior(), ch, fused=True, max_iter=15, warn=False)
    finally:
        solver._FUSED_BLOCK_BYTES = old
    np.testing.assert_allclose(b.x_hat, a.x_hat, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="fused=True needs X as a dense array"):
        from scipy.sparse import csr_matrix

        gamp(csr_matrix(X), Y[:, 0], GaussianPrior(), ch, fused=True)


def test_fused_float32_and_array_api_namespace(rng):
    """The NumPy fused pass (products written in place) in float32, and the generic fused
    pass of any other array namespace, both against the two-pass NumPy iteration."""
    import array_api_strict as xs

    n, d = 900, 400
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) / np.sqrt(d) + 0.3 * rng.standard_normal(n)
    ch = GaussianChannel(1.0, 0.09)
    ref = gamp(X, y, GaussianPrior(), ch, fused=False, max_iter=20, warn=False)
    f32 = gamp(X.astype(np.float32), y, GaussianPrior(), ch, fused=True, max_iter=20,
               warn=False)
    assert f32.x_hat.dtype == np.float32
    np.testing.assert_allclose(f32.x_hat, ref.x_hat, atol=2e-5)
    strict = gamp(xs.asarray(X), xs.asarray(y), GaussianPrior(), ch, fused=True, max_iter=20,
                  warn=False)
    np.testing.assert_allclose(np.asarray(strict.x_hat), ref.x_hat, rtol=1e-12, atol=1e-12)


def test_fused_block_size_from_the_cache_sizes(tmp_path):
    from deepgep.backend import cache_block_bytes, cache_bytes

    for name, (level, kind, size) in {"index0": (1, "Data", "48K"),
                                      "index1": (1, "Instruction", "32K"),
                                      "index2": (2, "Unified", "1024K"),
                                      "index3": (3, "Unified", "32M")}.items():
        (tmp_path / name).mkdir()
        for field, value in (("level", level), ("type", kind), ("size", size)):
            (tmp_path / name / field).write_text(f"{value}\n")
    (tmp_path / "uevent").write_text("")
    assert cache_bytes(1, 0, str(tmp_path)) == 48 * 2**10
    assert cache_bytes(2, 0, str(tmp_path)) == 2**20
    assert cache_bytes(3, 0, str(tmp_path)) == 32 * 2**20
    assert cache_bytes(4, 7, str(tmp_path)) == 7
    assert cache_bytes(2, 7, str(tmp_path / "missing")) == 7
    assert 4 * 2**20 <= cache_block_bytes() <= 2**30


def test_fused_auto_choice():
    """Auto mode fuses NumPy arrays larger than the L3 cache, never other namespaces."""
    import array_api_strict as xs

    from deepgep.amp.operators import Operator
    from deepgep.amp.solver import _fused_block_rows
    from deepgep.backend import cache_bytes

    d = 1000
    n_big = max(32 * 2**20, cache_bytes(3, 0)) // (8 * d) + 1
    big = np.broadcast_to(np.zeros(1), (n_big, d))  # shape and dtype only: no memory
    assert _fused_block_rows(Operator(big), None) > 0
    assert _fused_block_rows(Operator(big), False) == 0
    assert _fused_block_rows(Operator(np.zeros((100, d))), None) == 0
    assert _fused_block_rows(Operator(np.zeros((100, d))), True) > 0
    assert _fused_block_rows(Operator(xs.asarray(np.zeros((100, d)))), True) > 0
    assert _fused_block_rows(Operator(xs.asarray(np.zeros((5000, 1700)))), None) == 0  # 68 MB


def test_solver_dtype_option(rng):
    X = rng.standard_normal((800, 400))
    y = X @ rng.standard_normal(400) / 20 + 0.3 * rng.standard_normal(800)
    ch = GaussianChannel(1.0, 0.09)
    r64 = gamp(X, y, GaussianPrior(), ch, tol=1e-9, max_iter=200)
    r32 = gamp(X, y, GaussianPrior(), ch, tol=1e-9, max_iter=200, dtype="float32",
               warn=False)
    assert r32.x_hat.dtype == np.float32
    np.testing.assert_allclose(r32.x_hat, r64.x_hat, atol=1e-4)
    with pytest.raises(ValueError, match="dtype"):
        gamp(X, y, GaussianPrior(), ch, dtype="float16")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make", [lambda: GAMPRegressor(noise_variance=0.25),
                                  lambda: GAMPClassifier(noise_variance=0.1)],
                         ids=["regressor", "classifier"])
def test_fit_allocates_little_beyond_X(dtype, make):
    rng = np.random.default_rng(0)
    n, d = 4000, 2000
    X = np.ascontiguousarray(rng.standard_normal((n, d)).astype(dtype))
    z = X[:, :50].sum(axis=1)
    y = np.where(z > 0, 1.0, -1.0) if "Classifier" in type(make()).__name__ else z
    est = make()
    tracemalloc.start()
    est.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= 0.10 * X.nbytes, f"peak {peak / 2**20:.1f} MiB for X of {X.nbytes / 2**20} MiB"


def test_gpu_check_runs_without_a_gpu():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--quick"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "max relative difference vs NumPy" in out.stdout
