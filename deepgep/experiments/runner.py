"""The compare sweep: for each (α, seed) sample deep-teacher data, fit GAMP and sklearn
baselines, measure test errors; run serially, with joblib, or on a Dask cluster; results
are written per task, atomically, so an interrupted sweep resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import DeepTeacher

__all__ = ["Task", "tasks_of", "run_task", "run_sweep", "OutputDirError", "atomic_write",
           "read_partial", "task_key"]

Task = tuple[float, int]
PARTIAL = "partial"


class OutputDirError(RuntimeError):
    """The output directory exists and neither --resume nor --force was given."""


def tasks_of(cfg: dict[str, Any]) -> list[Task]:
    """All (α, seed) pairs of the configuration, in a fixed order."""
    e = cfg["experiment"]
    return [(float(a), int(s)) for a in e["alphas"] for s in e["seeds"]]


def task_key(task: Task) -> str:
    """A file-name-safe key of one task."""
    alpha, seed = task
    return f"alpha{alpha:.6g}-seed{seed}".replace(".", "p")


def _teacher(cfg: dict[str, Any], seed: int) -> DeepTeacher:
    t = cfg["teacher"]
    return DeepTeacher(t["n_features"], t["hidden_widths"], t["activation"], t["readout"],
                       t["label_noise"], random_state=seed)


def _test_error(kind: str, y: np.ndarray, pred: np.ndarray) -> float:
    if kind == "classification":
        return float(np.mean(pred != y))
    return float(np.mean((y - pred) ** 2))


def _methods(cfg: dict[str, Any], kind: str, seed: int) -> dict[str, Callable[[], Any]]:
    from sklearn.linear_model import LogisticRegressionCV, Ridge, RidgeCV
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from ..estimators import GAMPClassifier, GAMPRegressor

    t, g, m = cfg["teacher"], cfg["gamp"], cfg["mlp"]
    glm_lambda = None
    if kind == "regression":
        from ..equivalence import equivalent_glm

        glm = equivalent_glm(t["activation"], len(t["hidden_widths"]), "linear",
                             t["label_noise"])
        glm_lambda = (glm.gamma + t["label_noise"]) / glm.eta**2
    mlp_args = {"hidden_layer_sizes": (m["hidden_units"],), "max_iter": m["max_iter"],
                "early_stopping": True, "random_state": seed}
    aware = {"activation": t["activation"], "depth": len(t["hidden_widths"]),
             "max_iter": g["max_iter"], "tol": g["tol"]}
    table: dict[str, Callable[[], Any]] = {
        "gamp": (lambda: GAMPRegressor(label_noise=t["label_noise"], **aware))
        if kind == "regression" else (lambda: GAMPClassifier(label_noise=t["label_noise"],
                                                             **aware)),
        "ridge_opt": lambda: Ridge(alpha=glm_lambda, fit_intercept=False),
        "ridge_cv": lambda: RidgeCV(alphas=np.logspace(-3, 3, 25), fit_intercept=False),
        "logistic_cv": lambda: LogisticRegressionCV(Cs=8, fit_intercept=False, max_iter=500,
                                                    scoring="accuracy"),
        "mlp": (lambda: MLPRegressor(**mlp_args)) if kind == "regression"
        else (lambda: MLPClassifier(**mlp_args)),
    }
    return {name: table[name] for name in cfg["experiment"]["methods"]}


def run_task(cfg: dict[str, Any], task: Task) -> list[dict[str, Any]]:
    """Run every method of one (α, seed) task; one row per method.

    Rows: ``alpha, seed, method, test_error, train_time, n_iter``. The ridge baselines get
    features scaled by ``1/√d``, so that their regularisation matches the model's convention
    (Ridge at ``λ_opt = (γ₀+Δ)/η₀²`` is then the Bayes estimator, math.md §3.5), and so does
    the regression MLP (whose default weight decay otherwise lets it overfit the
    unit-variance, d-dimensional inputs by a factor of several); GAMP, logistic regression
    and the MLP classifier get the raw features.
    """
    from sklearn.exceptions import ConvergenceWarning

    alpha, seed = task
    t, e = cfg["teacher"], cfg["experiment"]
    kind = "classification" if t["readout"] == "sign" else "regression"
    d = t["n_features"]
    teacher = _teacher(cfg, seed)
    n_train = max(2, int(round(alpha * d)))
    X, y = teacher.sample(n_train, random_state=10_000 + seed * 1000 + int(alpha * 1000))
    Xt, yt = teacher.sample(e["n_test"], random_state=20_000 + seed)
    scale = 1.0 / math.sqrt(d)
    rows = []
    for name, make in _methods(cfg, kind, seed).items():
        est = make()
        scaled = name.startswith("ridge") or (name == "mlp" and kind == "regression")
        Xf, Xtf = (X * scale, Xt * scale) if scaled else (X, Xt)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            est.fit(Xf, y)
        elapsed = time.perf_counter() - t0
        pred = est.predict(Xtf)
        n_iter = getattr(est, "n_iter_", None)
        if isinstance(n_iter, np.ndarray):
            n_iter = int(np.max(n_iter))
        rows.append({
            "alpha": alpha, "seed": seed, "method": name,
            "test_error": _test_error(kind, yt, pred),
            "train_time": elapsed,
            "n_iter": int(n_iter) if n_iter is not None else -1,
        })
    return rows


# -- atomic, checksummed partial results --------------------------------------------------

def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _digest(rows: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def write_partial(out: Path, task: Task, rows: list[dict[str, Any]]) -> None:
    payload = {"task": list(task), "rows": rows, "sha256": _digest(rows)}
    atomic_write(out / PARTIAL / f"{task_key(task)}.json", json.dumps(payload, sort_keys=True))


def read_partial(path: Path, task: Task) -> list[dict[str, Any]] | None:
    """The rows of a partial file, or ``None`` if it is missing, truncated or corrupted."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        rows = payload["rows"]
        if payload["task"] != list(task) or payload["sha256"] != _digest(rows):
            return None
        return rows
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prepare_output(out: Path, resume: bool, force: bool) -> None:
    """Create ``out``; refuse an existing non-empty one unless resuming or forced."""
    if out.exists() and any(out.iterdir()):
        if force and not resume:
            shutil.rmtree(out)
        elif not resume:
            raise OutputDirError(
                f"output directory {str(out)!r} exists and is not empty: pass --resume to "
                "continue an interrupted sweep or --force to overwrite it"
            )
    (out / PARTIAL).mkdir(parents=True, exist_ok=True)


def _execute(cfg: dict[str, Any], todo: list[Task], n_jobs: int,
             scheduler: str | None) -> Iterator[tuple[Task, list[dict[str, Any]]]]:
    if scheduler is not None:
        yield from _execute_dask(cfg, todo, n_jobs, scheduler)
        return
    if n_jobs == 1:
        for task in todo:
            yield task, run_task(cfg, task)
        return
    from joblib import Parallel, delayed

    def one(task: Task) -> tuple[Task, list[dict[str, Any]]]:
        return task, run_task(cfg, task)

    yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(one)(task) for task in todo)


def _execute_dask(cfg: dict[str, Any], todo: list[Task], n_jobs: int,
                  scheduler: str) -> Iterator[tuple[Task, list[dict[str, Any]]]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise RuntimeError(
            'the --scheduler option needs Dask: pip install "deepgep[distributed]"') from exc
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=max(n_jobs, 1), threads_per_worker=1, processes=False,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = {client.submit(run_task, cfg, task, pure=False): task for task in todo}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_sweep(
    cfg: dict[str, Any],
    out: Path,
    *,
    n_jobs: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) the sweep; every finished task is saved at once, atomically.

    Returns
    -------
    list of dict
        All rows, sorted by (alpha, seed, method order).
    """
    prepare_output(out, resume, force)
    atomic_write(out / "config.json", json.dumps(cfg, indent=2, sort_keys=True))
    done: dict[Task, list[dict[str, Any]]] = {}
    for task in tasks_of(cfg):
        rows = read_partial(out / PARTIAL / f"{task_key(task)}.json", task)
        if rows is not None:
            done[task] = rows
    todo = [task for task in tasks_of(cfg) if task not in done]
    stream: Iterable[Any] = _execute(cfg, todo, n_jobs, scheduler)
    if progress is not None:
        stream = progress(stream, len(todo))
    for task, rows in stream:
        write_partial(out, task, rows)
        done[task] = rows
    order = {m: i for i, m in enumerate(cfg["experiment"]["methods"])}
    all_rows = [r for task in tasks_of(cfg) for r in done[task]]
    return sorted(all_rows, key=lambda r: (r["alpha"], r["seed"], order[r["method"]]))
