"""Per-iteration GAMP time as a ratio to the two-pass floor ``X@v`` + ``X.T@u`` (one run).

Usage: python benchmarks/bench_gamp.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from deepgep.amp import GaussianChannel, GaussianPrior, gamp


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(n: int, d: int, dtype, fused, iters: int = 10, repeat: int = 3) -> dict:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float64).astype(dtype, copy=False)
    w = rng.standard_normal(d)
    y = (X @ w / np.sqrt(d) + 0.5 * rng.standard_normal(n)).astype(dtype)
    v = rng.standard_normal(d).astype(dtype)
    u = rng.standard_normal(n).astype(dtype)
    floor = best_of(lambda: (X @ v, X.T @ u), repeat * 3)
    prior, ch = GaussianPrior(), GaussianChannel(1.0, 0.25)
    kw = {} if fused is None else {"fused": fused}

    def run(k):
        return lambda: gamp(X, y, prior, ch, max_iter=k, tol=1e-300, warn=False, **kw)

    run(1)()  # warm-up
    # The difference of two run lengths removes the one-time set-up (validation, ‖X‖_F²).
    per_iter = (best_of(run(2 * iters), repeat) - best_of(run(iters), repeat)) / iters
    return {"n": n, "d": d, "dtype": np.dtype(dtype).name, "floor_ms": 1e3 * floor,
            "iter_ms": 1e3 * per_iter, "ratio": per_iter / floor}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    args = ap.parse_args()
    sizes = [(2000, 1000)] if args.quick else [(2000, 1000), (20000, 10000)]
    print(f"{'n x d':>14} {'dtype':>8} {'floor ms':>9} {'GAMP ms':>9} {'ratio':>6}")
    for n, d in sizes:
        for dtype in (np.float64, np.float32):
            r = measure(n, d, dtype, None)
            print(f"{n:>7}x{d:<6} {r['dtype']:>8} {r['floor_ms']:9.2f} {r['iter_ms']:9.2f} "
                  f"{r['ratio']:6.2f}")


if __name__ == "__main__":
    main()
