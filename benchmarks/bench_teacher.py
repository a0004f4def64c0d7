"""DeepTeacher.sample time as a ratio to the bare matrix products it needs (target <= 1.3).

Usage: python benchmarks/bench_teacher.py
"""

from __future__ import annotations

import time

from deepgep.datasets import DeepTeacher


def main() -> None:
    print(f"{'n':>7} {'d0':>5} {'widths':>12} {'sample s':>9} {'matmul s':>9} {'ratio':>6}")
    for n, d, widths in [(20000, 500, (500, 500)), (50000, 1000, (1000, 1000))]:
        t = DeepTeacher(d, list(widths), "tanh", "linear", 0.1, random_state=0)
        t.sample(1000, random_state=0)  # warm-up
        sample, bare = float("inf"), float("inf")
        for _ in range(5):  # best of five, both measured in the same run, interleaved
            t0 = time.perf_counter()
            X, y = t.sample(n, random_state=1)
            sample = min(sample, time.perf_counter() - t0)
            # the bare products: X W1ᵀ, H1 W2ᵀ, H2 a
            t0 = time.perf_counter()
            h = X
            for W in t.weights:
                h = h @ W.T
            h @ t.readout_weights
            bare = min(bare, time.perf_counter() - t0)
        print(f"{n:>7} {d:>5} {str(widths):>12} {sample:9.3f} {bare:9.3f} {sample / bare:6.2f}")


if __name__ == "__main__":
    main()
