"""The command line and the experiment runner: outputs, validation, resume after SIGKILL,
corrupted partial files, parallel and Dask runs equal to the serial one, data loading."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import deepgep
from deepgep.cli import main
from deepgep.experiments import ConfigError, load_config, run_sweep, validate_config
from deepgep.experiments.config import tomllib

SMALL = """
[teacher]
n_features = 60
hidden_widths = [60, 60]
activation = "tanh"
readout = "linear"
label_noise = 0.1

[experiment]
alphas = [1.0, 2.0]
seeds = [0, 1]
n_test = 500
methods = ["gamp", "ridge_opt", "ridge_cv"]
tracking_alpha = 2.0
"""

SLOW = SMALL.replace("n_features = 60", "n_features = 150").replace(
    "[60, 60]", "[150, 150]").replace("alphas = [1.0, 2.0]", "alphas = [1.0, 2.0, 3.0, 4.0]"
                                      ).replace('"ridge_cv"]', '"ridge_cv", "mlp"]')


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _without_time(rows):
    return [{k: v for k, v in r.items() if k != "train_time"} for r in rows]


def test_theory_command(tmp_path, capsys):
    rc = main(["theory", "--activation", "tanh", "--activation", "erf", "--depth", "2",
               "--label-noise", "0.1", "--alphas", "0.5:2:4", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "generalization_error[tanh/L2]" in out
    rows = _rows(tmp_path / "theory.csv")
    assert len(rows) == 4 and (tmp_path / "theory.png").stat().st_size > 1000
    ref = deepgep.bayes_optimal("erf", 2, [0.5, 1.0, 1.5, 2.0], label_noise=0.1)
    got = [float(r["generalization_error[erf/L2]"]) for r in rows]
    np.testing.assert_allclose(got, ref.generalization_error, rtol=1e-7)
    rc = main(["theory", "--readout", "sign", "--alphas", "1,2"])
    assert rc == 0 and "classification_error[tanh/L2]" in capsys.readouterr().out


def test_compare_writes_every_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(SMALL)
    out = tmp_path / "out"
    assert main(["compare", "--config", str(cfg), "--out", str(out), "--quiet"]) == 0
    for name in ("results.csv", "summary.json", "figure.png", "tracking.png", "report.md"):
        assert (out / name).exists(), name
    rows = _rows(out / "results.csv")
    assert len(rows) == 2 * 2 * 3
    assert set(rows[0]) == {"alpha", "seed", "method", "test_error", "train_time", "n_iter"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["versions"]["deepgep"] == deepgep.__version__
    assert set(summary["methods"]) == {"gamp", "ridge_opt", "ridge_cv"}
    # GAMP and Ridge at λ_opt are the same estimator (math.md §3.5)
    g = [float(r["test_error"]) for r in rows if r["method"] == "gamp"]
    r_ = [float(r["test_error"]) for r in rows if r["method"] == "ridge_opt"]
    np.testing.assert_allclose(g, r_, rtol=1e-4)
    assert "Bayes-optimal" in (out / "report.md").read_text()
    # an existing output directory is not overwritten without --force
    assert main(["compare", "--config", str(cfg), "--out", str(out), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["compare", "--config", str(cfg), "--out", str(out), "--quiet", "--force"]) == 0


def test_config_validation_lists_every_problem(tmp_path):
    bad = {"teacher": {"n_features": -3, "activation": "softplus", "colour": "red"},
           "experiment": {"alphas": [], "seeds": "0"}, "plots": {}}
    with pytest.raises(ConfigError) as err:
        validate_config(bad)
    msg = str(err.value)
    for fragment in ("teacher.n_features", "teacher.activation", "teacher.colour",
                     "experiment.alphas", "experiment.seeds", "[plots]"):
        assert fragment in msg
    p = tmp_path / "x.toml"
    p.write_text("[teacher\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    with pytest.raises(ConfigError, match="do not apply to classification"):
        validate_config({"teacher": {"readout": "sign"}, "experiment": {"methods": ["ridge_cv"]}})
    assert load_config(None)["teacher"]["activation"] == "tanh"


def test_parallel_and_dask_runs_equal_serial(tmp_path):
    cfg = validate_config(tomllib.loads(SMALL))
    serial = run_sweep(cfg, tmp_path / "a")
    joblib_rows = run_sweep(cfg, tmp_path / "b", n_jobs=2)
    dask_rows = run_sweep(cfg, tmp_path / "c", n_jobs=2, scheduler="local")
    for other in (joblib_rows, dask_rows):
        assert [(r["alpha"], r["seed"], r["method"]) for r in other] == \
            [(r["alpha"], r["seed"], r["method"]) for r in serial]
        np.testing.assert_allclose([r["test_error"] for r in other],
                                   [r["test_error"] for r in serial], rtol=1e-9)


def test_resume_after_sigkill_gives_the_same_results(tmp_path):
    cfg = tmp_path / "slow.toml"
    cfg.write_text(SLOW)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "deepgep", "compare", "--config", str(cfg),
                             "--out", str(killed), "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = killed / "partial"
    deadline = time.time() + 120
    while time.time() < deadline:
        if partial.exists() and len(list(partial.glob("*.json"))) >= 2:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list(partial.glob("*.json")))
    assert 1 <= n_done < 8, "the sweep should have been killed part-way"
    assert not (killed / "results.csv").exists()
    # a truncated partial file is detected and recomputed, not trusted
    victim = sorted(partial.glob("*.json"))[0]
    victim.write_text(victim.read_text()[:40])
    assert main(["compare", "--config", str(cfg), "--out", str(killed), "--quiet"]) == 2
    assert main(["compare", "--config", str(cfg), "--out", str(killed), "--quiet",
                 "--resume"]) == 0
    clean = tmp_path / "clean"
    assert main(["compare", "--config", str(cfg), "--out", str(clean), "--quiet"]) == 0
    assert _without_time(_rows(killed / "results.csv")) == _without_time(
        _rows(clean / "results.csv"))


def _fit(tmp_path, *args):
    return main(["fit", *args, "--model-out", str(tmp_path / "m.joblib"),
                 "--predictions-out", str(tmp_path / "p.csv")])


def test_fit_command_formats(tmp_path, capsys):
    X, y, _ = deepgep.datasets.make_deep_teacher(400, 100, activation="tanh", label_noise=0.1,
                                                 random_state=0, return_teacher=True)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert _fit(tmp_path, "--data", str(tmp_path / "d.npz"), "--activation", "tanh",
                "--depth", "2", "--label-noise", "0.1") == 0
    out = capsys.readouterr().out
    assert "state-evolution prediction of the test MSE" in out and "[effective]" in out
    import joblib

    model = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_allclose(model.predict(X[:5]), [float(r["prediction"]) for r in
                                                      _rows(tmp_path / "p.csv")[:5]])
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    assert _fit(tmp_path, "--data", str(tmp_path / "X.npy"), "--target",
                str(tmp_path / "y.npy"), "--learn-channel") == 0
    assert "[learned]" in capsys.readouterr().out
    header = ",".join([f"x{i}" for i in range(X.shape[1])] + ["label"])
    lab = np.where(y > 0, "pos", "neg")
    lines = [header] + [",".join([*map(repr, row.tolist()), c]) for row, c in zip(X, lab,
                                                                                  strict=True)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    assert _fit(tmp_path, "--data", str(tmp_path / "d.csv"), "--label-column", "label",
                "--task", "classification") == 0
    assert "0-1 error" in capsys.readouterr().out


def test_fit_refuses_pickled_data(tmp_path, capsys):
    np.savez(tmp_path / "evil.npz", X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    assert _fit(tmp_path, "--data", str(tmp_path / "evil.npz")) == 2
    assert "could not read" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,fragment",
    [(["theory", "--alphas", "1:2"], "--alphas"),
     (["theory", "--alphas", "0,1"], "> 0"),
     (["theory", "--activation", "softplus"], "unknown activation"),
     (["compare", "--config", "missing.toml"], "does not exist"),
     (["compare", "--n-jobs", "0"], "--n-jobs"),
     (["fit", "--data", "missing.npz"], "does not exist"),
     (["fit", "--data", __file__], "must be a .npz"),
     (["fit", "--data", "x.npy"], "does not exist")],
)
def test_cli_bad_input(tmp_path, capsys, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_python_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "deepgep", "--version"], capture_output=True,
                         text=True, check=True)
    assert deepgep.__version__ in out.stdout
    assert Path(sys.executable).exists()


SIGN = """
[teacher]
n_features = 80
hidden_widths = [80, 80]
readout = "sign"
[experiment]
alphas = [1.0, 3.0]
seeds = [0, 1]
n_test = 1000
[mlp]
hidden_units = 16
max_iter = 50
"""


def test_compare_sign_readout(tmp_path):
    """Classification sweep: GAMPClassifier, LogisticRegressionCV and an MLP, 0-1 errors."""
    cfg = tmp_path / "sign.toml"
    cfg.write_text(SIGN)
    out = tmp_path / "out"
    assert main(["compare", "--config", str(cfg), "--out", str(out), "--quiet"]) == 0
    rows = _rows(out / "results.csv")
    assert {r["method"] for r in rows} == {"gamp", "logistic_cv", "mlp"}
    assert all(0.0 <= float(r["test_error"]) <= 1.0 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "classification"
    theory = deepgep.bayes_optimal("tanh", 2, [1.0, 3.0], readout="sign",
                                   label_noise=0.1).classification_error  # the default Δ
    np.testing.assert_allclose([summary["theory"][k] for k in sorted(summary["theory"])],
                               theory, rtol=1e-10)
    gamp = [float(r["test_error"]) for r in rows if r["method"] == "gamp"]
    assert np.mean(gamp) == pytest.approx(np.mean(theory), rel=0.15)  # d = 80: small
