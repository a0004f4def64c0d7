"""Final files of the compare sweep: results.csv, summary.json, figure.png, tracking.png and
report.md, plus the theory table/figure of the ``theory`` command."""

from __future__ import annotations

import csv
import io
import json
import platform
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..theory import bayes_optimal
from .runner import atomic_write

__all__ = ["write_results", "theory_curves", "plot_theory", "summarise", "tracking_run",
           "versions", "RESULT_COLUMNS"]

RESULT_COLUMNS = ("alpha", "seed", "method", "test_error", "train_time", "n_iter")
LABELS = {"gamp": "GAMP (deepgep)", "ridge_opt": "Ridge at λ_opt", "ridge_cv": "RidgeCV",
          "logistic_cv": "LogisticRegressionCV", "mlp": "MLP"}


def versions() -> dict[str, str]:
    """Versions of Python, the package and its dependencies."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("deepgep", "numpy", "scipy", "scikit-learn", "array-api-compat", "matplotlib",
                "joblib", "dask", "distributed"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _kind(cfg: dict[str, Any]) -> str:
    return "classification" if cfg["teacher"]["readout"] == "sign" else "regression"


def theory_for(cfg: dict[str, Any], alphas: np.ndarray) -> np.ndarray:
    """The Bayes-optimal test error of the configuration's teacher at ``alphas``."""
    t = cfg["teacher"]
    res = bayes_optimal(t["activation"], len(t["hidden_widths"]), alphas, t["readout"],
                        t["label_noise"])
    return res.classification_error if _kind(cfg) == "classification" \
        else res.generalization_error


def summarise(cfg: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method and α: mean ± std of the test error and time, and the theory."""
    alphas = sorted({r["alpha"] for r in rows})
    theory = dict(zip(alphas, theory_for(cfg, np.asarray(alphas)).tolist(), strict=True))
    methods: dict[str, Any] = {}
    for m in cfg["experiment"]["methods"]:
        per_alpha = []
        for a in alphas:
            errs = np.array([r["test_error"] for r in rows if r["method"] == m and r["alpha"] == a])
            times = np.array([r["train_time"] for r in rows if r["method"] == m
                              and r["alpha"] == a])
            per_alpha.append({
                "alpha": a, "test_error_mean": float(errs.mean()),
                "test_error_std": float(errs.std(ddof=1)) if errs.size > 1 else 0.0,
                "train_time_mean": float(times.mean()), "n_runs": int(errs.size),
                "excess_over_bayes": float(errs.mean() / theory[a] - 1.0),
            })
        errs = np.array([p["excess_over_bayes"] for p in per_alpha])
        methods[m] = {"per_alpha": per_alpha, "mean_excess_over_bayes": float(errs.mean())}
    return {"kind": _kind(cfg), "theory": theory, "methods": methods}


def write_results(out: Path, cfg: dict[str, Any], rows: list[dict[str, Any]],
                  tracking: dict[str, np.ndarray] | None) -> dict[str, Any]:
    """Write results.csv, summary.json, figure.png, tracking.png and report.md."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(RESULT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{r[k]:.12g}" if isinstance(r[k], float) else r[k])
                         for k in RESULT_COLUMNS})
    atomic_write(out / "results.csv", buf.getvalue())
    summary = summarise(cfg, rows)
    full = {"config": cfg, "versions": versions(), **summary}
    atomic_write(out / "summary.json", json.dumps(full, indent=2, sort_keys=True))
    _plot_compare(out / "figure.png", cfg, summary)
    if tracking is not None:
        _plot_tracking(out / "tracking.png", tracking)
    atomic_write(out / "report.md", _report(cfg, summary, tracking))
    return full


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    tmp.replace(path)


def _plot_compare(path: Path, cfg: dict[str, Any], summary: dict[str, Any]) -> None:
    plt = _plt()
    alphas = np.array(sorted(summary["theory"]))
    grid = np.linspace(max(alphas.min() * 0.5, 0.05), alphas.max() * 1.1, 120)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(grid, theory_for(cfg, grid), "k-", lw=2, label="Bayes-optimal (theory)")
    for i, (m, info) in enumerate(summary["methods"].items()):
        pa = info["per_alpha"]
        x = np.array([p["alpha"] for p in pa]) * (1 + 0.012 * (i - 1.5))
        ax.errorbar(x, [p["test_error_mean"] for p in pa], yerr=[p["test_error_std"] for p in pa],
                    fmt="o", ms=4, capsize=3, label=LABELS.get(m, m))
    t = cfg["teacher"]
    ax.set_xlabel("α = n / d")
    ax.set_ylabel("test 0-1 error" if summary["kind"] == "classification" else "test MSE")
    ax.set_title(f"{t['activation']} teacher, depth {len(t['hidden_widths'])}, "
                 f"{t['readout']} readout, Δ = {t['label_noise']}, d = {t['n_features']}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def _plot_tracking(path: Path, tr: dict[str, np.ndarray]) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    ax.semilogy(tr["iteration"], tr["mse_gamp"], "o", label="GAMP (empirical)")
    ax.semilogy(tr["iteration"], tr["mse_se"], "-", label="state evolution")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE of the effective weights")
    ax.set_title(f"GAMP vs state evolution (α = {float(tr['alpha']):g})")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def tracking_run(cfg: dict[str, Any], alpha: float, seed: int,
                 n_iter: int = 15) -> dict[str, np.ndarray]:
    """One GAMP run on deep-teacher data with the teacher's effective direction as the truth,
    next to its state-evolution prediction."""
    from sklearn.exceptions import ConvergenceWarning

    from ..amp import gamp
    from ..datasets import DeepTeacher
    from ..state_evolution import track

    t = cfg["teacher"]
    teacher = DeepTeacher(t["n_features"], t["hidden_widths"], t["activation"], t["readout"],
                          t["label_noise"], random_state=seed)
    X, y = teacher.sample(max(2, int(round(alpha * t["n_features"]))),
                          random_state=30_000 + seed)
    glm = teacher.equivalent_glm()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = gamp(X, y, glm.prior, glm.channel, x_true=teacher.effective_direction(),
                   max_iter=n_iter, damping=0.0, tol=1e-300)
    out = track(res, glm.prior, glm.channel, alpha)
    out["alpha"] = np.asarray(alpha)
    return out


def _report(cfg: dict[str, Any], summary: dict[str, Any],
            tracking: dict[str, np.ndarray] | None) -> str:
    t, e = cfg["teacher"], cfg["experiment"]
    kind = summary["kind"]
    err = "test 0-1 error" if kind == "classification" else "test MSE (noisy labels)"
    lines = [
        "# deepgep compare: report",
        "",
        f"Teacher: {t['activation']} network of depth {len(t['hidden_widths'])}, widths "
        f"{t['hidden_widths']}, input dimension d = {t['n_features']}, {t['readout']} readout, "
        f"label noise Δ = {t['label_noise']}. Seeds {e['seeds']}, {e['n_test']} test points.",
        "",
        f"Bayes-optimal {err} from the equivalent GLM (state evolution), against each method's "
        "mean over seeds (± standard deviation):",
        "",
        "| α | Bayes-optimal | " + " | ".join(LABELS.get(m, m) for m in summary["methods"])
        + " |",
        "|---|---|" + "---|" * len(summary["methods"]),
    ]
    for a in sorted(summary["theory"]):
        cells = []
        for info in summary["methods"].values():
            p = next(p for p in info["per_alpha"] if p["alpha"] == a)
            cells.append(f"{p['test_error_mean']:.4f} ± {p['test_error_std']:.4f}")
        lines.append(f"| {a:g} | {summary['theory'][a]:.4f} | " + " | ".join(cells) + " |")
    lines += ["", "## How far each method is from the Bayes-optimal error", ""]
    ranked = sorted(summary["methods"].items(), key=lambda kv: kv[1]["mean_excess_over_bayes"])
    for m, info in ranked:
        ex = 100 * info["mean_excess_over_bayes"]
        times = np.mean([p["train_time_mean"] for p in info["per_alpha"]])
        word = "above" if ex >= 0 else "below"
        lines.append(f"- **{LABELS.get(m, m)}**: on average {abs(ex):.1f}% {word} the "
                     f"Bayes-optimal error (mean fit time {times:.3g} s).")
    closest = min(ranked, key=lambda kv: abs(kv[1]["mean_excess_over_bayes"]))[0]
    lines += ["", f"Lowest error: **{LABELS.get(ranked[0][0], ranked[0][0])}**; closest to the "
              f"Bayes-optimal theory: **{LABELS.get(closest, closest)}**. The theory is the "
              "d → ∞ limit: finite-size fluctuations are of the order of the standard "
              "deviations in the table, so a method slightly below it is within noise. (GAMP "
              "and Ridge at λ_opt compute the same Bayes estimator of the equivalent GLM.)"]
    if tracking is not None:
        gap = np.max(np.abs(tracking["mse_gamp"] - tracking["mse_se"]))
        lines += ["", "## GAMP against state evolution", "",
                  f"At α = {float(tracking['alpha']):g}, over {len(tracking['iteration'])} "
                  f"iterations, GAMP's MSE on the teacher's effective weights stays within "
                  f"{gap:.3g} of the state-evolution prediction (final: empirical "
                  f"{tracking['mse_gamp'][-1]:.4f}, predicted {tracking['mse_se'][-1]:.4f}). "
                  "See tracking.png."]
    lines += ["", "Files: results.csv (one row per α × seed × method), summary.json, "
              "figure.png, tracking.png.", ""]
    return "\n".join(lines)


def theory_curves(activations: list[Any], depths: list[int], readout: str,
                  label_noise: float, alphas: np.ndarray) -> list[dict[str, Any]]:
    """Bayes-optimal curves for every (activation, depth) pair."""
    curves = []
    for act in activations:
        for depth in depths:
            r = bayes_optimal(act, depth, alphas, readout, label_noise)
            curves.append({"activation": act, "depth": depth, "eta": r.eta, "gamma": r.gamma,
                           "generalization_error": r.generalization_error,
                           "classification_error": r.classification_error,
                           "mutual_information": r.mutual_information})
    return curves


def plot_theory(path: Path, curves: list[dict[str, Any]], alphas: np.ndarray,
                readout: str, label_noise: float) -> None:
    """One figure with every theory curve (error, and MI per sample)."""
    plt = _plt()
    key = "classification_error" if readout == "sign" else "generalization_error"
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for c in curves:
        label = f"{c['activation']}, depth {c['depth']}"
        axes[0].plot(alphas, c[key], label=label)
        mi = np.asarray(c["mutual_information"], dtype=float)
        if np.all(np.isfinite(mi)):
            axes[1].plot(alphas, mi, label=label)
    axes[0].set_ylabel("Bayes-optimal " + ("0-1 error" if readout == "sign" else "test MSE"))
    axes[1].set_ylabel("mutual information per sample (nats)")
    for ax in axes:
        ax.set_xlabel("α = n / d")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{readout} readout, label noise Δ = {label_noise}")
    _save(fig, path)
    plt.close(fig)
