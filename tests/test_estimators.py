"""scikit-learn estimators: API conformance, Bayes-optimal accuracy on deep-teacher data
against theory and sklearn baselines, EM learning of the channel, backends, pickling."""

import math
import pickle
import warnings

import array_api_strict as xs
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

import deepgep
from deepgep import GAMPClassifier, GAMPRegressor
from deepgep.datasets import DeepTeacher


@parametrize_with_checks(
    [
        GAMPRegressor(),
        GAMPClassifier(),
        GAMPRegressor(activation="tanh", depth=2, label_noise=0.1),
        GAMPClassifier(activation="tanh", depth=2),
        GAMPRegressor(fit_intercept=True, learn_channel=True),
        GAMPClassifier(fit_intercept=True),
    ]
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


D, ALPHA, DELTA = 1000, 2.0, 0.1


def _data(seed, readout="linear", delta=DELTA, n_test=20000):
    t = DeepTeacher(D, [D, D], "tanh", readout, delta, random_state=seed)
    X, y = t.sample(int(ALPHA * D), random_state=100 + seed)
    Xt, yt = t.sample(n_test, random_state=200 + seed)
    return X, y, Xt, yt


@pytest.fixture(scope="module")
def regression_runs():
    runs = []
    for seed in range(3):
        X, y, Xt, yt = _data(seed)
        aware = GAMPRegressor(activation="tanh", depth=2, label_noise=DELTA).fit(X, y)
        learned = GAMPRegressor(learn_channel=True, max_iter=500).fit(X, y)
        runs.append((X, y, Xt, yt, aware, learned))
    return runs


def test_regressor_reaches_bayes_optimal_error(regression_runs):
    theory = deepgep.bayes_optimal("tanh", 2, ALPHA, label_noise=DELTA).generalization_error[0]
    errs = [np.mean((yt - aware.predict(Xt)) ** 2) for _, _, Xt, yt, aware, _ in regression_runs]
    assert np.mean(errs) == pytest.approx(theory, rel=0.05)
    # the fitted state-evolution prediction is the same theory, at the fitted α
    for *_, aware, _ in regression_runs:
        assert aware.state_evolution_.generalization_error == pytest.approx(theory, rel=1e-8)
        assert aware.converged_
    assert np.mean(errs) == pytest.approx(
        regression_runs[0][4].state_evolution_.generalization_error, rel=0.05)


def test_regressor_not_worse_than_ridgecv(regression_runs):
    X, y, Xt, yt, aware, _ = regression_runs[0]
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 25), fit_intercept=False).fit(X, y)
    err_ridge = np.mean((yt - ridge.predict(Xt)) ** 2)
    err_gamp = np.mean((yt - aware.predict(Xt)) ** 2)
    assert err_gamp <= err_ridge * 1.001


def test_learn_channel_recovers_effective_glm(regression_runs):
    """EM learns η₀² and γ₀ + Δ; averaged over teachers, since one finite-width teacher's own
    linear part fluctuates by several percent around the d → ∞ value."""
    glm = deepgep.equivalence.equivalent_glm("tanh", 2, label_noise=DELTA)
    scales = [learned.scale_**2 for *_, learned in regression_runs]
    noises = [learned.noise_variance_ for *_, learned in regression_runs]
    assert np.mean(scales) == pytest.approx(glm.eta**2, rel=0.10)
    assert np.mean(noises) == pytest.approx(glm.gamma + DELTA, rel=0.10)
    for _X, _y, Xt, yt, aware, learned in regression_runs:
        e_learned = np.mean((yt - learned.predict(Xt)) ** 2)
        e_aware = np.mean((yt - aware.predict(Xt)) ** 2)
        assert e_learned == pytest.approx(e_aware, rel=0.05)


def test_predict_return_std(regression_runs):
    X, y, Xt, yt, aware, _ = regression_runs[0]
    mean, std = aware.predict(Xt[:500], return_std=True)
    assert mean.shape == std.shape == (500,)
    # predictive variance N + c² V, and it calibrates the test residuals
    ch = aware.channel_
    assert np.all(std**2 >= ch.noise_variance)
    z = (yt[:500] - mean) / std
    assert np.mean(z**2) == pytest.approx(1.0, abs=0.15)


def test_classifier_reaches_bayes_optimal_error():
    theory = deepgep.bayes_optimal("tanh", 2, ALPHA, readout="sign").classification_error[0]
    errs, errs_lr = [], []
    for seed in range(2):
        X, y, Xt, yt = _data(seed, "sign", 0.0)
        clf = GAMPClassifier(activation="tanh", depth=2).fit(X, y)
        errs.append(np.mean(clf.predict(Xt) != yt))
        assert clf.state_evolution_.classification_error == pytest.approx(theory, rel=1e-8)
        with warnings.catch_warnings():  # sklearn 1.9 announces default changes
            warnings.simplefilter("ignore", FutureWarning)
            lr = LogisticRegressionCV(Cs=8, fit_intercept=False, max_iter=500,
                                      scoring="accuracy").fit(X, y)
        errs_lr.append(np.mean(lr.predict(Xt) != yt))
    assert np.mean(errs) == pytest.approx(theory, rel=0.05)
    # Logistic regression is near-optimal here ([CKZ23]); "not worse" up to one standard
    # error of the 2 × 20000-point test estimate (≈ 0.002).
    se_test = math.sqrt(theory * (1 - theory) / 40000)
    assert np.mean(errs) <= np.mean(errs_lr) + se_test


def test_classifier_labels_probabilities_and_errors(rng):
    X = rng.standard_normal((300, 40))
    w = rng.standard_normal(40)
    y = np.where(X @ w > 0, "spam", "ham")
    clf = GAMPClassifier(noise_variance=0.1).fit(X, y)
    assert list(clf.classes_) == ["ham", "spam"]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(np.argmax(proba, axis=1) == (clf.decision_function(X) > 0))
    assert np.mean(clf.predict(X) == y) > 0.9
    with pytest.raises(ValueError, match="Only binary classification"):
        GAMPClassifier().fit(X, rng.integers(0, 3, size=300))


def test_pickle_round_trip(regression_runs):
    X, y, Xt, yt, aware, learned = regression_runs[0]
    for est in (aware, learned):
        again = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(again.predict(Xt[:100]), est.predict(Xt[:100]))


def test_clone_and_grid_search(rng):
    X = rng.standard_normal((200, 30))
    y = X @ rng.standard_normal(30) / math.sqrt(30) + 0.3 * rng.standard_normal(200)
    est = GAMPRegressor(noise_variance=2.0)
    assert clone(est).get_params() == est.get_params()
    gs = GridSearchCV(GAMPRegressor(), {"noise_variance": [0.01, 0.1, 1.0]}, cv=3).fit(X, y)
    assert gs.best_params_["noise_variance"] in (0.01, 0.1)


def test_multi_target_regression(rng):
    X = rng.standard_normal((400, 50))
    W = rng.standard_normal((50, 3))
    Y = X @ W / math.sqrt(50) + 0.2 * rng.standard_normal((400, 3))
    est = GAMPRegressor(noise_variance=0.04, tol=1e-10).fit(X, Y)
    assert est.coef_.shape == (50, 3) and est.predict(X).shape == (400, 3)
    for j in range(3):
        single = GAMPRegressor(noise_variance=0.04, tol=1e-10).fit(X, Y[:, j])
        np.testing.assert_allclose(est.coef_[:, j], single.coef_, atol=1e-8)


def test_array_api_inputs_stay_in_their_namespace(rng):
    """array-api-strict stands in for CuPy: fit and predict never leave the namespace."""
    X = rng.standard_normal((200, 30))
    y = X @ rng.standard_normal(30) / math.sqrt(30) + 0.3 * rng.standard_normal(200)
    ref = GAMPRegressor(noise_variance=0.1).fit(X, y)
    est = GAMPRegressor(noise_variance=0.1).fit(xs.asarray(X), xs.asarray(y))
    pred = est.predict(xs.asarray(X))
    assert isinstance(pred, type(xs.asarray(y)))
    np.testing.assert_allclose(np.from_dlpack(pred), ref.predict(X), rtol=1e-10)
    yc = xs.asarray(np.where(y > 0, 1.0, -1.0))
    clf = GAMPClassifier(noise_variance=0.1).fit(xs.asarray(X), yc)
    assert isinstance(clf.predict(xs.asarray(X)), type(yc))


def test_float32(rng):
    X = rng.standard_normal((300, 40)).astype(np.float32)
    y = (X @ rng.standard_normal(40).astype(np.float32) / np.float32(math.sqrt(40)))
    est = GAMPRegressor(noise_variance=0.1).fit(X, y)
    assert est.coef_.dtype == np.float32 and est.predict(X).dtype == np.float32
    ref = GAMPRegressor(noise_variance=0.1, dtype="float64").fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-4)


@pytest.mark.parametrize(
    "est,msg",
    [(GAMPRegressor(activation="tanh"), "depth must be given"),
     (GAMPRegressor(depth=2), "activation must be given"),
     (GAMPRegressor(readout="sign", activation="tanh", depth=1), "GAMPClassifier"),
     (GAMPRegressor(max_iter=0), "max_iter"),
     (GAMPRegressor(noise_variance=-1.0), "noise_variance"),
     (GAMPRegressor(prior="laplace"), "prior"),
     (GAMPRegressor(dtype="int8"), "dtype"),
     (GAMPRegressor(activation="tanh", depth=1, readout="tanh", label_noise=0.1,
                    learn_channel=True), "learn_channel")],
)
def test_estimator_bad_parameters(rng, est, msg):
    X = rng.standard_normal((30, 5))
    y = rng.standard_normal(30)
    with pytest.raises(ValueError, match=msg):
        est.fit(X, y)
