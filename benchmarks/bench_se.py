"""Time of a 100-point state-evolution curve (targets: probit < 0.5 s, generic tanh < 2 s).

Usage: python benchmarks/bench_se.py
"""

from __future__ import annotations

import time

import numpy as np

from deepgep import state_evolution as se
from deepgep.amp import GaussianPrior, GenericChannel, ProbitChannel

CASES = {
    "Gaussian prior, probit channel": (ProbitChannel(0.8, 0.2), 0.5),
    "Gaussian prior, generic tanh readout + label noise": (
        GenericChannel("tanh", 0.46, 0.023, 0.1), 2.0),
}


def main() -> None:
    alphas = np.linspace(0.05, 5.0, 100)
    print(f"{'case':<52} {'seconds':>8} {'target':>7} {'ratio':>6}")
    for name, (ch, target) in CASES.items():
        se.curve(GaussianPrior(), ch, alphas[:2])  # warm-up (imports, caches)
        t0 = time.perf_counter()
        c = se.curve(GaussianPrior(), ch, alphas)
        dt = time.perf_counter() - t0
        assert np.all(c.converged)
        print(f"{name:<52} {dt:8.3f} {target:7.1f} {dt / target:6.2f}")


if __name__ == "__main__":
    main()
