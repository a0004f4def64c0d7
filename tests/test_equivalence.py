"""Deep Gaussian equivalence: coefficients vs closed forms and math.md tables, effective GLM,
Monte Carlo on sampled teachers, and the data generators."""

import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

import deepgep
from deepgep.amp import GaussianChannel, GenericChannel, ProbitChannel, gamp
from deepgep.datasets import DeepTeacher, GLMTeacher, make_deep_teacher
from deepgep.equivalence import (
    OutsideTheoremWarning,
    check_equivalence,
    equivalent_glm,
    layer_coefficients,
)

# math.md §5.1 (mpmath, 30 digits): (rho, sigma, eps) per layer
TABLE = {
    "tanh": [(0.605705509602159, 0.394294490397841, 0.0274153260354303),
             (0.763549589500704, 0.236450410499296, 0.00657357785169175),
             (0.833343646198061, 0.166656353801939, 0.00245061568378273)],
    "tanh2x": [(0.72947753148612, 0.63526123425694, 0.103123765313857),
               (0.876798725612741, 0.561600637193629, 0.0732270432402077),
               (0.919260124471324, 0.540369937764338, 0.0657953978203496)],
}


def tanh2x(x):
    return np.tanh(2 * x)


@pytest.mark.parametrize("name", ["tanh", "tanh2x"])
def test_layer_coefficients_match_tables(name):
    act = "tanh" if name == "tanh" else tanh2x
    lc = layer_coefficients(act, 3)
    for ell, (r, s, e) in enumerate(TABLE[name]):
        assert lc.rho[ell] == pytest.approx(r, abs=1e-10)
        assert lc.sigma[ell] == pytest.approx(s, abs=1e-10)
        assert lc.eps[ell] == pytest.approx(e, abs=1e-10)


def test_layer_coefficients_closed_forms():
    lc = layer_coefficients("erf", 4)
    s = 1.0
    for ell in range(4):
        assert lc.rho[ell] == pytest.approx(2 / math.sqrt(math.pi * (1 + 2 * s)), abs=1e-12)
        s = 2 / math.pi * math.asin(2 * s / (1 + 2 * s))
        assert lc.sigma[ell] == pytest.approx(s, abs=1e-12)
    lc = layer_coefficients("sin", 4)
    s = 1.0
    for ell in range(4):
        assert lc.rho[ell] == pytest.approx(math.exp(-s / 2), abs=1e-12)
        s = (1 - math.exp(-2 * s)) / 2
        assert lc.sigma[ell] == pytest.approx(s, abs=1e-12)
    lc = layer_coefficients("linear", 3)
    np.testing.assert_allclose(lc.rho, 1.0, atol=1e-15)
    np.testing.assert_allclose(lc.eps, 0.0, atol=1e-15)
    # callable sin agrees with the named one
    np.testing.assert_allclose(layer_coefficients(np.sin, 2).rho, layer_coefficients("sin", 2).rho,
                               atol=1e-12)


# math.md §5.2: (eta0², gamma0, sigma_L)
GLM_TABLE = [
    ("tanh", 1, 0.366879164362411, 0.0274153260354303, 0.394294490397841),
    ("tanh", 2, 0.213893478914542, 0.0225569315847537, 0.236450410499296),
    ("tanh", 3, 0.148540814582038, 0.0181155392199009, 0.166656353801939),
    (tanh2x, 2, 0.409094517610527, 0.152506119583102, 0.561600637193629),
    (tanh2x, 3, 0.345700894248961, 0.194669043515377, 0.540369937764338),
    ("erf", 2, 0.28011745036699, 0.0397915593136403, 0.319909009680631),
    ("sin", 2, 0.238751418475169, 0.0506522076130632, 0.289403626088232),
    ("linear", 3, 1.0, 0.0, 1.0),
]


@pytest.mark.parametrize("act,depth,eta2,gamma,sigma", GLM_TABLE)
def test_effective_glm_parameters(act, depth, eta2, gamma, sigma):
    g = equivalent_glm(act, depth)
    assert g.eta**2 == pytest.approx(eta2, abs=1e-10)
    assert g.gamma == pytest.approx(gamma, abs=1e-10)
    assert g.eta**2 + g.gamma == pytest.approx(sigma, abs=1e-10)
    assert g.layers.sigma[-1] == pytest.approx(sigma, abs=1e-10)


def test_ckz_optimal_ridge_lambda():
    g = equivalent_glm(tanh2x, 2)
    assert g.gamma / g.eta**2 == pytest.approx(0.37278944844792, abs=1e-10)


def test_effective_channels():
    g = equivalent_glm("tanh", 2, "linear", label_noise=0.1)
    assert isinstance(g.channel, GaussianChannel)
    assert g.channel.noise_variance == pytest.approx(g.gamma + 0.1)
    g = equivalent_glm("tanh", 2, "sign", label_noise=0.05)
    assert isinstance(g.channel, ProbitChannel)
    assert g.channel.scale == pytest.approx(g.eta)
    g = equivalent_glm("tanh", 1, "tanh", label_noise=0.1)
    assert isinstance(g.channel, GenericChannel) and g.channel.inner_variance == g.gamma
    g = equivalent_glm("tanh", 0, "linear", 0.2, rho_out=0.5, eps_out=0.3)
    assert (g.eta, g.gamma) == (0.5, 0.3)


def test_per_layer_activations_apply_layer_by_layer():
    mixed = layer_coefficients(["tanh", "erf"], 2)
    first = layer_coefficients("tanh", 1)
    assert mixed.rho[0] == first.rho[0]
    # second layer: erf at input variance sigma_1(tanh)
    s = first.sigma[0]
    assert mixed.rho[1] == pytest.approx(2 / math.sqrt(math.pi * (1 + 2 * s)), abs=1e-12)


def test_outside_theorem_warnings():
    with pytest.warns(OutsideTheoremWarning, match="not odd"):
        lc = layer_coefficients("relu", 1)
    assert lc.rho[0] == pytest.approx(0.5, abs=1e-12)
    assert lc.sigma[0] == pytest.approx(0.5, abs=1e-12)
    with pytest.warns(OutsideTheoremWarning, match="not C"):
        lc = layer_coefficients("sign", 1)
    assert lc.rho[0] == pytest.approx(math.sqrt(2 / math.pi), abs=1e-10)
    with pytest.warns(OutsideTheoremWarning):
        layer_coefficients(lambda x: x**2, 1)


@pytest.mark.parametrize(
    "kwargs,msg",
    [({"activation": "softplus", "depth": 1}, "unknown activation"),
     ({"activation": ["tanh"], "depth": 2}, "one activation per layer"),
     ({"activation": "tanh", "depth": -1}, "depth"),
     ({"activation": "tanh", "depth": 1, "label_noise": -0.1}, "label_noise"),
     ({"activation": "tanh", "depth": 1, "readout": 3}, "readout"),
     ({"activation": "tanh", "depth": 1, "readout": "tanh"}, "label_noise must be > 0")],
)
def test_equivalence_bad_input(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        equivalent_glm(**kwargs)


def test_bayes_optimal_linear_readout_matches_closed_form():
    r = deepgep.bayes_optimal("tanh", 2, [0.5, 2.0], label_noise=0.1)
    s, N = r.eta**2, r.gamma + 0.1
    for k, a in enumerate([0.5, 2.0]):
        b = N + (a - 1) * s
        e = (-b + math.sqrt(b * b + 4 * s * N)) / (2 * s)
        assert r.generalization_error[k] == pytest.approx(s * e + N, abs=1e-10)
    assert r.noise_information == pytest.approx(0.5 * math.log(1 + r.gamma / 0.1), abs=1e-10)
    np.testing.assert_allclose(r.mutual_information,
                               r.glm_mutual_information / r.alpha + r.noise_information)


def test_bayes_optimal_linear_activation_noiseless():
    """math.md §5.3: a deep linear network, noiseless: E = (1 - α)_+."""
    r = deepgep.bayes_optimal("linear", 3, [0.25, 0.5, 0.9], label_noise=1e-12)
    np.testing.assert_allclose(r.generalization_error, [0.75, 0.5, 0.1], atol=1e-5)


def test_bayes_optimal_sign_readout_limits():
    r = deepgep.bayes_optimal("tanh", 2, [1e4], readout="sign")
    s, s2 = r.eta**2, r.gamma
    assert r.classification_error[0] == pytest.approx(math.acos(math.sqrt(s / (s + s2))) / math.pi,
                                                      abs=2e-3)
    # noise term: I(ξ; Y | z) = E h2(Φ(η z/√γ)) is positive and below ln 2
    assert 0 < r.noise_information < math.log(2)


def _unbiased_linear_norm(X, y):
    S = X.T @ y
    n = len(y)
    return (S @ S - np.sum(np.einsum("ij,ij->i", X, X) * y * y)) / (n * (n - 1))


def test_monte_carlo_linear_part_of_teachers():
    """‖E[x y]‖²/E[y²] of sampled teachers (averaged over three) vs η₀²/σ_L."""
    ratios = []
    for seed in range(3):
        t = DeepTeacher(600, [600, 600], "tanh", random_state=seed)
        X, y = t.sample(40000, random_state=100 + seed)
        ratios.append(_unbiased_linear_norm(X, y) / np.mean(y * y))
    g = equivalent_glm("tanh", 2)
    assert np.mean(ratios) == pytest.approx(g.eta**2 / g.output_variance, rel=0.03)
    chk = check_equivalence(DeepTeacher(600, [600, 600], "tanh", random_state=0), 20000)
    assert chk.linear_fraction == pytest.approx(chk.predicted_linear_fraction, rel=0.1)
    assert chk.output_second_moment == pytest.approx(g.output_variance, rel=0.1)


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_ridge_at_lambda_opt_reaches_bayes_optimal_error(alpha):
    d, delta = 500, 0.01
    errs = []
    for seed in range(3):
        t = DeepTeacher(d, [d, d], "tanh", "linear", delta, random_state=seed)
        X, y = t.sample(int(alpha * d), random_state=10 + seed)
        Xt, yt = t.sample(20000, random_state=20 + seed)
        g = t.equivalent_glm()
        ridge = Ridge(alpha=(g.gamma + delta) / g.eta**2, fit_intercept=False)
        ridge.fit(X / math.sqrt(d), y)
        errs.append(np.mean((yt - ridge.predict(Xt / math.sqrt(d))) ** 2))
    theory = deepgep.bayes_optimal("tanh", 2, alpha, label_noise=delta).generalization_error[0]
    assert np.mean(errs) == pytest.approx(theory, rel=0.08)


def test_gamp_on_sign_readout_deep_teacher():
    d, alpha = 500, 2.0
    errs = []
    for seed in range(3):
        t = DeepTeacher(d, [d, d], "tanh", "sign", 0.0, random_state=seed)
        X, y = t.sample(int(alpha * d), random_state=30 + seed)
        Xt, yt = t.sample(20000, random_state=40 + seed)
        g = t.equivalent_glm()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = gamp(X, y, g.prior, g.channel, max_iter=200)
        omega = Xt @ res.x_hat / math.sqrt(d)
        pred = g.channel.predict(omega, float(np.mean(res.x_var)))
        errs.append(np.mean(np.where(pred >= 0, 1.0, -1.0) != yt))
    theory = deepgep.bayes_optimal("tanh", 2, alpha, readout="sign").classification_error[0]
    assert np.mean(errs) == pytest.approx(theory, rel=0.08)


def test_batched_sampling_equals_unbatched():
    t = DeepTeacher(50, [40, 30], "tanh", "linear", 0.1, eps_out=0.05, random_state=1)
    X1, y1 = t.sample(1000, random_state=7, batch_size=1000)
    X2, y2 = t.sample(1000, random_state=7, batch_size=64)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_allclose(y1, y2, rtol=1e-12)
    X3, y3 = t.sample(1000, random_state=8)
    assert not np.array_equal(X1, X3)


def test_threaded_sampling_matches_serial_and_the_definition(monkeypatch):
    """Large enough for threaded random chunks and a threaded tanh: the same (X, y) as one
    thread, and y equal to the teacher's definition computed directly (math.md §1.1)."""
    import deepgep.datasets.teachers as teachers

    t = DeepTeacher(64, [48], "tanh", "linear", 0.0, random_state=3)
    X, y = t.sample(20000, random_state=5)
    monkeypatch.setattr(teachers, "_THREADS", 1)
    X1, y1 = t.sample(20000, random_state=5)
    np.testing.assert_array_equal(X, X1)
    np.testing.assert_array_equal(y, y1)
    W, a = t.weights[0], t.readout_weights
    direct = np.tanh(X @ W.T / np.sqrt(64)) @ a / np.sqrt(48)
    np.testing.assert_allclose(y, direct, rtol=1e-12, atol=1e-12)
    assert abs(np.mean(X)) < 0.01 and abs(np.var(X) - 1.0) < 0.01


def test_teacher_details():
    t = DeepTeacher(30, [20], "tanh", "sign", 0.0, random_state=0, dtype=np.float32)
    X, y = t.sample(100, random_state=0)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert set(np.unique(y)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(t.clean_output(X), y)  # noiseless sign readout
    u = t.effective_direction()
    assert float(u @ u) == pytest.approx(30.0, rel=1e-5)
    X, y, teacher = make_deep_teacher(200, 40, activation="erf", label_noise=0.1,
                                      random_state=3, return_teacher=True)
    assert X.shape == (200, 40) and y.shape == (200,) and teacher.hidden_widths == (40, 40)
    gt = GLMTeacher(deepgep.amp.GaussianPrior(), GaussianChannel(1.0, 0.1), 25, random_state=0)
    X, y = gt.sample(60, random_state=1)
    assert X.shape == (60, 25) and np.all(np.isfinite(y))


@pytest.mark.parametrize(
    "kwargs,msg",
    [({"n_features": 0}, "n_features"),
     ({"hidden_widths": [10, -1]}, "hidden_widths"),
     ({"hidden_widths": [10, 0]}, "hidden_widths"),
     ({"activation": "softplus"}, "unknown activation"),
     ({"readout": object()}, "readout"),
     ({"label_noise": -1.0}, "label_noise"),
     ({"activation": ["tanh"], "hidden_widths": [5, 5]}, "one activation per layer"),
     ({"dtype": np.int32}, "dtype")],
)
def test_teacher_bad_input(kwargs, msg):
    base = {"n_features": 10, "hidden_widths": [5, 5]}
    base.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        DeepTeacher(**base)


def test_sampling_memory_beyond_X_does_not_grow_with_n():
    """Row batches: memory beyond X and y is O(batch × width), independent of n."""
    import tracemalloc

    t = DeepTeacher(200, [200, 200], "tanh", "linear", 0.1, random_state=0)
    extra = []
    for n in (40_000, 120_000):
        tracemalloc.start()
        X, y = t.sample(n, random_state=1, batch_size=5000)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        extra.append(peak - X.nbytes - y.nbytes)
        del X, y
    assert extra[1] <= 1.1 * extra[0] + 2**20
    assert extra[1] <= 20 * 5000 * 200 * 8  # a few batch-sized temporaries at most


def test_named_layers_cached_and_callables_integrated():
    """Named activations are computed once (then cached); a callable is always integrated,
    whatever its __name__: a function called ``linear`` that doubles its input has ρ = 2."""
    from deepgep.equivalence import layer_coefficients

    def linear(x):
        return 2.0 * x

    assert layer_coefficients(linear, 1).rho[0] == pytest.approx(2.0, rel=1e-12)
    assert layer_coefficients(linear, 1).sigma[0] == pytest.approx(4.0, rel=1e-12)
    by_name = [layer_coefficients("tanh", 3) for _ in range(2)]
    by_callable = layer_coefficients(np.tanh, 3)
    for c in by_name:
        np.testing.assert_allclose(c.rho, by_callable.rho, rtol=1e-12)
        np.testing.assert_allclose(c.sigma, by_callable.sigma, rtol=1e-12)
