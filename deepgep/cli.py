"""The ``deepgep`` command line: ``theory``, ``compare`` (the main job) and ``fit``."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "parse_alphas", "load_data"]


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def parse_alphas(spec: str) -> np.ndarray:
    """``"start:stop:num"`` (inclusive linspace) or a comma-separated list of α > 0."""
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num < 1:
                raise ValueError
            alphas = np.linspace(start, stop, num)
        else:
            alphas = np.array([float(x) for x in spec.split(",") if x.strip()])
    except ValueError:
        raise CLIError(f"--alphas must be 'start:stop:num' or a comma list of numbers, "
                       f"got {spec!r}") from None
    if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
        raise CLIError(f"--alphas must all be finite and > 0, got {spec!r}")
    return alphas


def load_data(path: str, target: str | None = None,
              label_column: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read ``X`` and ``y`` without pickle: ``.npz`` (arrays ``X`` and ``y``), a ``.npy`` pair
    (``--data X.npy --target y.npy``), or ``.csv`` with a header and a label column
    (default: the last column)."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"--data file {path!r} does not exist")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as data:
                missing = [k for k in ("X", "y") if k not in data]
                if missing:
                    raise CLIError(f"{path!r} must hold arrays named 'X' and 'y' "
                                   f"(missing {missing}; found {sorted(data.files)})")
                X, y = data["X"], data["y"]
        elif suffix == ".npy":
            if target is None:
                raise CLIError("a .npy --data file needs --target FILE.npy with the labels")
            X = np.load(p, allow_pickle=False)
            y = np.load(target, allow_pickle=False)
        elif suffix == ".csv":
            text = p.read_text(encoding="utf-8")
            reader = csv.reader(io.StringIO(text))
            header = next(reader, None)
            if not header:
                raise CLIError(f"{path!r} is empty")
            col = len(header) - 1 if label_column is None else (
                header.index(label_column) if label_column in header else -1)
            if col < 0:
                raise CLIError(f"--label-column {label_column!r} is not in the header "
                               f"{header}")
            rows = [r for r in reader if r]
            table = np.array(rows, dtype=object)
            y_raw = table[:, col]
            X = np.delete(table, col, axis=1).astype(float)
            try:
                y = y_raw.astype(float)
            except ValueError:
                y = y_raw.astype(str)
        else:
            raise CLIError(f"--data must be a .npz, .npy or .csv file, got {path!r}")
    except CLIError:
        raise
    except (ValueError, OSError, IndexError) as exc:
        raise CLIError(f"could not read {path!r}: {exc}") from exc
    X = np.asarray(X)
    if X.ndim != 2:
        raise CLIError(f"X must be 2-D, got shape {X.shape}")
    if np.asarray(y).shape[0] != X.shape[0]:
        raise CLIError(f"X has {X.shape[0]} rows but y has {np.asarray(y).shape[0]}")
    return X, np.asarray(y)


def _progress(quiet: bool) -> Any:
    from tqdm import tqdm

    def wrap(stream: Any, total: int) -> Any:
        return tqdm(stream, total=total, file=sys.stderr, disable=quiet, desc="tasks")

    return wrap


# -- commands --------------------------------------------------------------------------------

def cmd_theory(args: argparse.Namespace) -> int:
    from .experiments.report import plot_theory, theory_curves

    alphas = parse_alphas(args.alphas)
    activations = args.activation or ["tanh"]
    depths = args.depth or [2]
    curves = theory_curves(activations, depths, args.readout, args.label_noise, alphas)
    key = "classification_error" if args.readout == "sign" else "generalization_error"
    header = ["alpha"]
    for c in curves:
        tag = f"{c['activation']}/L{c['depth']}"
        header += [f"{key}[{tag}]", f"mi_per_sample[{tag}]"]
    rows = []
    for k, a in enumerate(alphas):
        row = [f"{a:.6g}"]
        for c in curves:
            mi = float(c["mutual_information"][k])
            row += [f"{float(c[key][k]):.8g}", f"{mi:.8g}" if math.isfinite(mi) else "inf"]
        rows.append(row)
    for c in curves:
        print(f"# {c['activation']}, depth {c['depth']}: eta0^2 = {c['eta'] ** 2:.10g}, "
              f"gamma0 = {c['gamma']:.10g}")
    widths = [max(len(h), 12) for h in header]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        (out / "theory.csv").write_text(buf.getvalue(), encoding="utf-8")
        plot_theory(out / "theory.png", curves, alphas, args.readout, args.label_noise)
        print(f"wrote {out / 'theory.csv'} and {out / 'theory.png'}", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .experiments import load_config, run_sweep, tracking_run, write_results

    cfg = load_config(args.config)
    if args.n_jobs == 0 or args.n_jobs < -1:
        raise CLIError(f"--n-jobs must be a positive integer or -1, got {args.n_jobs}")
    out = Path(args.out)
    rows = run_sweep(cfg, out, n_jobs=args.n_jobs, scheduler=args.scheduler,
                     resume=args.resume, force=args.force, progress=_progress(args.quiet))
    e = cfg["experiment"]
    tracking = tracking_run(cfg, e["tracking_alpha"], e["seeds"][0])
    write_results(out, cfg, rows, tracking)
    if not args.quiet:
        print((out / "report.md").read_text(encoding="utf-8"))
    print(f"wrote results to {out}/ (results.csv, summary.json, figure.png, tracking.png, "
          "report.md)", file=sys.stderr)
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    import joblib

    from .estimators import GAMPClassifier, GAMPRegressor

    X, y = load_data(args.data, args.target, args.label_column)
    aware = args.activation is not None
    if aware and args.depth is None:
        raise CLIError("--activation needs --depth")
    if aware and args.learn_channel:
        raise CLIError("give either --activation/--depth or --learn-channel, not both")
    common: dict[str, Any] = {"max_iter": args.max_iter}
    if aware:
        common.update(activation=args.activation, depth=args.depth,
                      label_noise=args.label_noise)
    learn = args.learn_channel or not aware  # unknown architecture: learn the channel
    if args.task == "classification":
        est: Any = GAMPClassifier(learn_channel=learn, noise_variance=0.1 if learn else 0.0,
                                  **common)
    else:
        est = GAMPRegressor(learn_channel=learn, **common)
    est.fit(X, y)
    se = est.state_evolution_
    ch = est.channel_
    print(f"fitted {type(est).__name__} on {X.shape[0]} samples x {X.shape[1]} features "
          f"(alpha = {X.shape[0] / X.shape[1]:.4g}); {est.n_iter_} iterations, "
          f"converged: {est.converged_}")
    print(f"channel: {type(ch).__name__}(scale={ch.scale:.6g}, "
          f"noise_variance={ch.noise_variance:.6g})"
          + (" [learned]" if getattr(est, "learn_channel", False) else " [effective]"))
    if args.task == "classification":
        print(f"state-evolution prediction of the test 0-1 error: "
              f"{se.classification_error:.6g}")
    else:
        print(f"state-evolution prediction of the test MSE: {se.generalization_error:.6g}")
    model_out = Path(args.model_out)
    model_out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(est, model_out)
    pred = np.asarray(est.predict(X))
    pred_out = Path(args.predictions_out)
    pred_out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["y", "prediction"])
    w.writerows(zip(y.tolist(), pred.tolist(), strict=True))
    pred_out.write_text(buf.getvalue(), encoding="utf-8")
    info = {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
            "scale": ch.scale, "noise_variance": ch.noise_variance,
            "predicted_test_error": float(se.classification_error if args.task
                                          == "classification" else se.generalization_error)}
    print(json.dumps(info))
    print(f"saved the model to {model_out} (joblib: load only trusted files, loading runs "
          f"code) and predictions to {pred_out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(
        prog="deepgep",
        description="Bayes-optimal theory and GAMP for deep random-network teachers through "
                    "their equivalent GLM.")
    p.add_argument("--version", action="version", version=f"deepgep {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("theory", help="Bayes-optimal error and mutual information against α")
    t.add_argument("--activation", action="append",
                   help="hidden activation (repeat for several curves)")
    t.add_argument("--depth", action="append", type=int, help="depth (repeat for several)")
    t.add_argument("--readout", choices=["linear", "sign"], default="linear")
    t.add_argument("--label-noise", type=float, default=0.0)
    t.add_argument("--alphas", default="0.1:4:40", help="start:stop:num or a comma list")
    t.add_argument("--out", help="directory for theory.csv and theory.png")
    t.set_defaults(func=cmd_theory)

    c = sub.add_parser("compare", help="the main experiment: GAMP vs sklearn vs theory")
    c.add_argument("--config", help="TOML file (default: the embedded configuration)")
    c.add_argument("--out", default="deepgep-out", help="output directory")
    c.add_argument("--n-jobs", type=int, default=1, help="local parallel jobs (joblib)")
    c.add_argument("--scheduler", help="Dask scheduler address, or 'local' for a LocalCluster")
    c.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    c.add_argument("--force", action="store_true", help="overwrite an existing --out")
    c.add_argument("--quiet", action="store_true", help="no progress bars or report echo")
    c.set_defaults(func=cmd_compare)

    f = sub.add_parser("fit", help="fit GAMP on your data")
    f.add_argument("--data", required=True, help=".npz (X, y), .npy (with --target) or .csv")
    f.add_argument("--target", help="labels .npy file when --data is a .npy file")
    f.add_argument("--label-column", help="label column of a .csv (default: the last)")
    f.add_argument("--task", choices=["regression", "classification"], default="regression")
    f.add_argument("--activation", help="teacher activation (teacher-aware mode)")
    f.add_argument("--depth", type=int, help="teacher depth (teacher-aware mode)")
    f.add_argument("--label-noise", type=float, default=0.0)
    f.add_argument("--learn-channel", action="store_true",
                   help="learn the channel by EM (default for regression without --activation)")
    f.add_argument("--max-iter", type=int, default=300)
    f.add_argument("--model-out", default="deepgep-model.joblib")
    f.add_argument("--predictions-out", default="deepgep-predictions.csv")
    f.set_defaults(func=cmd_fit)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepgep`` console script."""
    from .experiments import ConfigError, OutputDirError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (CLIError, ConfigError, OutputDirError, ValueError) as exc:
        print(f"deepgep {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"deepgep {args.command}: interrupted; finished tasks are saved "
              "(continue with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
