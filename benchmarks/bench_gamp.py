"""Per-iteration GAMP time as a ratio to the two-pass float64 floor ``X@v`` + ``X.T@u``,
all measured in one run (issues: <= 1.5 everywhere; <= 1.2 at 2000x1000; <= 0.75 for
20000x10000 float64 with the fused iteration; <= 0.4 for the same in float32).

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


def per_iteration(X, y, fused, iters: int = 10, repeat: int = 3) -> float:
    prior, ch = GaussianPrior(), GaussianChannel(1.0, 0.25)

    def run(k):
        return lambda: gamp(X, y, prior, ch, max_iter=k, tol=1e-300, warn=False, fused=fused)

    run(1)()  # warm-up
    # The difference of two run lengths removes the one-time set-up (validation, ‖X‖_F²).
    return (best_of(run(2 * iters), repeat) - best_of(run(iters), repeat)) / iters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small size only")
    args = ap.parse_args()
    sizes = [(2000, 1000)] if args.quick else [(2000, 1000), (20000, 10000)]
    print(f"{'n x d':>12} {'dtype':>8} {'form':>8} {'floor64 ms':>10} {'GAMP ms':>8} "
          f"{'ratio':>6}")
    rng = np.random.default_rng(0)
    for n, d in sizes:
        X64 = rng.standard_normal((n, d))
        w = rng.standard_normal(d)
        y = X64 @ w / np.sqrt(d) + 0.5 * rng.standard_normal(n)
        v, u = rng.standard_normal(d), rng.standard_normal(n)
        floor = best_of(lambda X64=X64, v=v, u=u: (X64 @ v, X64.T @ u), 9)
        for dtype in (np.float64, np.float32):
            X = X64 if dtype == np.float64 else X64.astype(np.float32)
            yy = y.astype(dtype)
            for fused in (False, True):
                t = per_iteration(X, yy, fused)
                form = "fused" if fused else "2-pass"
                print(f"{n:>6}x{d:<5} {np.dtype(dtype).name:>8} {form:>8} {1e3 * floor:10.2f} "
                      f"{1e3 * t:8.2f} {t / floor:6.2f}")
            del X


if __name__ == "__main__":
    main()
