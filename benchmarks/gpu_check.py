"""GPU check, one script: CuPy vs NumPy results on the same data, and GAMP's per-iteration
time at n = 100000, d = 20000 float32 against the device's copy bandwidth measured in the same
run. Without CuPy or a GPU it runs the same checks on NumPy at a small size (CI keeps it
working).

Usage: python benchmarks/gpu_check.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from deepgep import GAMPClassifier, GAMPRegressor
from deepgep.amp import GaussianChannel, GaussianPrior, ProbitChannel, gamp


def _cupy():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # noqa: BLE001 - no CuPy, no driver or no device: run on NumPy
        return None
    return None


def _sync(xp) -> None:
    if xp is not np:
        xp.cuda.Device().synchronize()


def agreement(xp) -> float:
    """Largest relative difference between NumPy and ``xp`` results on the same data."""
    rng = np.random.default_rng(0)
    n, d = 4000, 2000
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    z = X @ w / np.sqrt(d)
    y_reg = z + 0.5 * rng.standard_normal(n)
    y_cls = np.where(z + 0.3 * rng.standard_normal(n) >= 0, 1.0, -1.0)
    to = (lambda a: xp.asarray(a)) if xp is not np else (lambda a: a.copy())
    host = (lambda a: a.get()) if xp is not np else (lambda a: a)
    worst = 0.0
    for y, ch in ((y_reg, GaussianChannel(1.0, 0.25)), (y_cls, ProbitChannel(1.0, 0.09))):
        ref = gamp(X, y, GaussianPrior(), ch, max_iter=40, warn=False)
        dev = gamp(to(X), to(y), GaussianPrior(), ch, max_iter=40, warn=False)
        diff = np.max(np.abs(host(dev.x_hat) - ref.x_hat)) / np.max(np.abs(ref.x_hat))
        worst = max(worst, float(diff))
    reg_ref = GAMPRegressor(noise_variance=0.25).fit(X, y_reg).predict(X[:100])
    reg_dev = GAMPRegressor(noise_variance=0.25).fit(to(X), to(y_reg)).predict(to(X[:100]))
    assert type(reg_dev) is type(to(X[:1])), "predictions must come back in the input's type"
    worst = max(worst, float(np.max(np.abs(host(reg_dev) - reg_ref)) /
                             np.max(np.abs(reg_ref))))
    clf = GAMPClassifier(noise_variance=0.09).fit(to(X), to(y_cls))
    agree = float(np.mean(host(clf.predict(to(X[:500]))) == y_cls[:500]))
    assert agree > 0.8, agree
    return worst


def timing(xp, n: int, d: int) -> tuple[float, float, float]:
    """(per-iteration seconds, one-pass read time at the measured copy bandwidth, GB/s)."""
    if xp is np:
        X = np.random.default_rng(1).standard_normal((n, d), dtype=np.float32)
    else:
        X = xp.random.default_rng(1).standard_normal((n, d), dtype=xp.float32)
    y = (X[:, 0] + 0.1).astype(X.dtype)
    _sync(xp)
    t0 = time.perf_counter()
    for _ in range(3):
        Y = X.copy()
    _sync(xp)
    copy_s = (time.perf_counter() - t0) / 3
    del Y
    bandwidth = 2 * X.nbytes / copy_s  # a copy reads and writes every byte
    prior, ch = GaussianPrior(), GaussianChannel(1.0, 0.25)

    def run(k: int) -> float:
        _sync(xp)
        t = time.perf_counter()
        gamp(X, y, prior, ch, max_iter=k, tol=1e-300, warn=False)
        _sync(xp)
        return time.perf_counter() - t

    run(2)
    per_iter = (min(run(20) for _ in range(2)) - min(run(10) for _ in range(2))) / 10
    return per_iter, X.nbytes / bandwidth, bandwidth / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small timing size")
    args = ap.parse_args()
    cp = _cupy()
    xp = cp if cp is not None else np
    name = "CuPy on " + cp.cuda.runtime.getDeviceProperties(0)["name"].decode() \
        if cp is not None else "NumPy (no GPU found)"
    print(f"backend: {name}")
    worst = agreement(xp)
    print(f"max relative difference vs NumPy: {worst:.2e} (target <= 1e-6)")
    n, d = (100_000, 20_000) if cp is not None and not args.quick else (4000, 2000)
    per_iter, one_pass, gbs = timing(xp, n, d)
    print(f"n x d = {n} x {d} float32: {1e3 * per_iter:.2f} ms per iteration; copy bandwidth "
          f"{gbs:.1f} GB/s, one read of X {1e3 * one_pass:.2f} ms; ratio "
          f"{per_iter / one_pass:.2f} passes per iteration")
    return 0 if worst <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
