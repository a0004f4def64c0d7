"""Per-iteration GAMP time as a ratio to the two-pass float64 floor ``X@v`` + ``X.T@u``,
all measured in one run (issues: <= 1.5 everywhere; <= 1.2 at 2000x1000; <= 0.75 for
20000x10000 float64 with the fused iteration; <= 0.4 for the same in float32).

Both sides are timed alike, per iteration: GAMP's iterations by the time between
consecutive callbacks (so its one-time set-up is not counted), the floor by timing each
``(X@v, X.T@u)`` pair, in interleaved rounds so that a noisy neighbour hits both. The
table gives the median over all rounds (the minimum in brackets).

Usage: python benchmarks/bench_gamp.py [--quick] [--rounds R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from deepgep.amp import GaussianChannel, GaussianPrior, gamp


def gamp_iteration_times(X, y, fused: bool, iters: int) -> list[float]:
    stamps: list[float] = []

    def stamp(t, state) -> None:
        stamps.append(time.perf_counter())

    gamp(X, y, GaussianPrior(), GaussianChannel(1.0, 0.25), max_iter=iters + 1, tol=1e-300,
         warn=False, fused=fused, check_input=False, callback=stamp)
    return list(np.diff(stamps))


def floor_times(X, v, u, iters: int) -> list[float]:
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        X @ v
        X.T @ u
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small size only")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = ap.parse_args()
    sizes = [(2000, 1000)] if args.quick else [(2000, 1000), (20000, 10000)]
    print(f"{'n x d':>12} {'dtype':>8} {'form':>7} {'floor64 ms':>15} {'GAMP ms':>15} "
          f"{'ratio':>6}")
    rng = np.random.default_rng(0)
    for n, d in sizes:
        iters = 100 if n * d < 10**7 else 4
        X64 = rng.standard_normal((n, d))
        w = rng.standard_normal(d)
        y = X64 @ w / np.sqrt(d) + 0.5 * rng.standard_normal(n)
        v, u = rng.standard_normal(d), rng.standard_normal(n)
        data = {"float64": (X64, y), "float32": (X64.astype(np.float32), y.astype(np.float32))}
        cases = [(dt, fused) for dt in data for fused in (False, True)]
        floor: list[float] = []
        times: dict[tuple[str, bool], list[float]] = {c: [] for c in cases}
        for _ in range(args.rounds):
            floor += floor_times(X64, v, u, iters)
            for dt, fused in cases:
                times[dt, fused] += gamp_iteration_times(*data[dt], fused, iters)
        f_med, f_min = np.median(floor), np.min(floor)
        for (dt, fused), ts in times.items():
            form = "fused" if fused else "2-pass"
            med = np.median(ts)
            print(f"{n:>6}x{d:<5} {dt:>8} {form:>7} {1e3 * f_med:7.2f} ({1e3 * f_min:5.2f}) "
                  f"{1e3 * med:7.2f} ({1e3 * np.min(ts):5.2f}) {med / f_med:6.2f}")
        del X64, data


if __name__ == "__main__":
    main()
