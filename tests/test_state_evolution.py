"""State evolution and replica formula against closed forms, exact finite-d values, limits,
published thresholds, GAMP itself, and the I-MMSE (envelope) relation."""

import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from deepgep import state_evolution as se
from deepgep.amp import (
    BernoulliGaussianPrior,
    BinaryPrior,
    GaussianChannel,
    GaussianMixturePrior,
    GaussianPrior,
    GenericChannel,
    ProbitChannel,
    gamp,
)
from deepgep.state_evolution import InputAverages, OutputAverages


def _closed_form_gaussian(alpha, s, N):
    """math.md §3.5(a): e* root of s e² + (N + (α-1)s) e - N = 0; E = s e* + N; MI."""
    b = N + (alpha - 1) * s
    e = (-b + math.sqrt(b * b + 4 * s * N)) / (2 * s)
    mi = -0.5 * math.log(e) + alpha / 2 * math.log(1 + s * e / N) - 0.5 * (1 - e)
    return 1 - e, s * e + N, mi


@pytest.mark.parametrize("alpha", [0.1, 0.7, 1.0, 2.5, 10.0])
@pytest.mark.parametrize("c,N", [(1.0, 0.5), (0.6, 0.05), (1.3, 2.0)])
def test_gaussian_closed_forms(alpha, c, N):
    r = se.solve(GaussianPrior(), GaussianChannel(c, N), alpha)
    q, err, mi = _closed_form_gaussian(alpha, c * c, N)
    assert r.converged
    assert r.q == pytest.approx(q, abs=1e-10)
    assert r.generalization_error == pytest.approx(err, abs=1e-10)
    assert r.mutual_information == pytest.approx(mi, abs=1e-10)
    assert r.classification_error is None


def test_gaussian_mi_matches_exact_finite_d_log_det():
    d, alpha, s, N = 1500, 2.0, 0.8, 0.3
    X = np.random.default_rng(0).standard_normal((int(alpha * d), d))
    _, logdet = np.linalg.slogdet(np.eye(d) + (s / (N * d)) * (X.T @ X))
    exact = logdet / (2 * d)
    r = se.solve(GaussianPrior(), GaussianChannel(math.sqrt(s), N), alpha)
    assert r.mutual_information == pytest.approx(exact, abs=1e-3)


def test_generic_quadrature_equals_closed_forms():
    """The same SE quantities, from the generic quadrature of the channel/prior functions."""
    rho = 1.0
    qs = np.array([0.0, 0.1, 0.45, 0.8])
    for ch in (ProbitChannel(1.2, 0.3), ProbitChannel(0.7, 1.5), GaussianChannel(0.9, 0.4)):
        cf = OutputAverages(ch, rho, closed_form=True)
        gen = OutputAverages(ch, rho, n_nodes=96, closed_form=False)
        np.testing.assert_allclose(gen.hat(qs), cf.hat(qs), rtol=1e-8)
        np.testing.assert_allclose(gen.free_entropy(qs), cf.free_entropy(qs), rtol=1e-8)
        np.testing.assert_allclose(gen.generalization_error(qs), cf.generalization_error(qs),
                                   rtol=1e-8)
        if ch.binary:
            # the generic 0-1 error integrates a kink: Gauss–Hermite gives ~1e-4 there
            np.testing.assert_allclose(gen.classification_error(qs),
                                       cf.classification_error(qs), atol=2e-3)
    # generic readout f = identity is the Gaussian channel
    lin = OutputAverages(GenericChannel("linear", 0.9, 0.1, 0.3), rho, closed_form=False)
    gau = OutputAverages(GaussianChannel(0.9, 0.4), rho)
    np.testing.assert_allclose(lin.hat(qs), gau.hat(qs), rtol=1e-8)
    np.testing.assert_allclose(lin.free_entropy(qs), gau.free_entropy(qs), rtol=1e-8)
    # Gaussian prior: generic input averages vs closed form
    for prior in (GaussianPrior(), GaussianPrior(0.5, 2.0)):
        cf, gen = InputAverages(prior), InputAverages(prior, closed_form=False)
        rs = np.array([0.0, 0.3, 2.0, 40.0])
        np.testing.assert_allclose(gen.overlap(rs), cf.overlap(rs), rtol=1e-10)
        np.testing.assert_allclose(gen.free_entropy(rs), cf.free_entropy(rs), rtol=1e-10,
                                   atol=1e-12)


def test_probit_limits():
    """math.md §5.3: α → 0 and α → ∞ of the classification error."""
    s, s2 = 0.4, 0.1
    ch = ProbitChannel(math.sqrt(s), s2)
    for alpha in (1e-3, 1e-4):
        r = se.solve(GaussianPrior(), ch, alpha)
        approx = 0.5 - math.sqrt(2 * alpha / math.pi) / math.pi * s / (s + s2)
        assert r.classification_error == pytest.approx(approx, abs=0.05 * (0.5 - approx))
    big = se.solve(GaussianPrior(), ch, 1e4)
    limit = math.acos(math.sqrt(s / (s + s2))) / math.pi
    assert big.classification_error == pytest.approx(limit, abs=2e-3)
    assert big.classification_error > limit


def test_regression_limits():
    s, N = 0.3, 0.2
    small = se.solve(GaussianPrior(), GaussianChannel(math.sqrt(s), N), 1e-3)
    assert small.generalization_error == pytest.approx(s + N - 1e-3 * s * s / (s + N), rel=1e-6)
    big = se.solve(GaussianPrior(), GaussianChannel(math.sqrt(s), N), 1e4)
    assert big.generalization_error == pytest.approx(N * (1 + 1e-4), rel=1e-4)


def test_binary_perceptron_thresholds():
    """Binary prior, noiseless sign channel: α_alg ≈ 1.493 (GAMP) and α_IT ≈ 1.245.

    The issue quotes α_IT ≈ 1.249; an independent 25-digit mpmath evaluation of the same
    replica formula gives 1.2447, as does the classic value 1.245 (Györgyi 1990).
    """
    tr = se.find_transitions(BinaryPrior(), ProbitChannel(1.0, 0.0), (1.0, 2.0))
    assert tr.algorithmic == pytest.approx(1.493, abs=1e-3)
    assert tr.information_theoretic == pytest.approx(1.245, abs=1e-3)
    fp = se.fixed_points(BinaryPrior(), ProbitChannel(1.0, 0.0), 1.4)
    assert not fp.unique and fp.optimal.q == pytest.approx(1.0, abs=1e-6)
    assert fp.uninformed.q < 0.9
    # the informed branch carries exactly the prior's entropy: ln 2
    assert fp.informed.mutual_information == pytest.approx(math.log(2), abs=1e-5)


def test_gaussian_prior_has_a_unique_fixed_point():
    fp = se.fixed_points(GaussianPrior(), ProbitChannel(1.0, 0.2), 3.0)
    assert fp.unique


@pytest.mark.parametrize(
    "prior,channel",
    [(GaussianPrior(), ProbitChannel(0.8, 0.2)),
     (BernoulliGaussianPrior(0.2), GaussianChannel(1.0, 0.1)),
     (BinaryPrior(), GaussianChannel(1.0, 0.5)),
     (GaussianPrior(), GenericChannel("tanh", 1.0, 0.1, 0.2))],
    ids=lambda o: type(o).__name__,
)
def test_i_mmse_envelope(prior, channel):
    """dMI/dα by finite differences equals Ψ_out(ρ) - Ψ_out(q*) (envelope theorem)."""
    alpha, h = 1.3, 1e-4
    lo = se.solve(prior, channel, alpha - h)
    hi = se.solve(prior, channel, alpha + h)
    mid = se.solve(prior, channel, alpha)
    out = OutputAverages(channel, prior.second_moment)
    predicted = out.full_information() - float(out.free_entropy(mid.q))
    fd = (hi.mutual_information - lo.mutual_information) / (2 * h)
    assert fd == pytest.approx(predicted, rel=1e-5, abs=1e-8)


def test_curve_matches_single_solves():
    prior = GaussianPrior()
    ch = GenericChannel("tanh", 0.8, 0.05, 0.1)
    alphas = np.array([0.2, 1.0, 3.0])
    c = se.curve(prior, ch, alphas)
    for k, a in enumerate(alphas):
        s = se.solve(prior, ch, a)
        assert c.q[k] == pytest.approx(s.q, abs=1e-8)
        assert c.generalization_error[k] == pytest.approx(s.generalization_error, abs=1e-8)
        assert c.mutual_information[k] == pytest.approx(s.mutual_information, abs=1e-8)
    assert c.trajectory.shape[1] == 3


def test_warm_started_curve_follows_a_branch():
    """Warm starts agree where the fixed point is unique and continue the uninformed branch
    across the binary perceptron's transition: q jumps to 1 only past α_alg ≈ 1.493."""
    alphas = np.array([0.5, 1.0, 1.3, 1.45, 1.55, 2.0])
    ch = ProbitChannel(1.0, 0.0)
    warm = se.curve(BinaryPrior(), ch, alphas, warm_start=True, max_iter=100_000)
    cold = se.curve(BinaryPrior(), ch, alphas, max_iter=100_000)
    np.testing.assert_allclose(warm.q, cold.q, atol=1e-8)
    assert np.all(warm.q[:4] < 0.95) and np.all(warm.q[4:] > 1 - 1e-6)
    down = se.curve(BinaryPrior(), ch, alphas[::-1], init="informed", warm_start=True)
    assert np.all(down.q > 1 - 1e-6)  # the informed branch persists below α_alg
    g = se.curve(GaussianPrior(), ProbitChannel(1.0, 0.2), alphas, warm_start=True)
    np.testing.assert_allclose(g.q, se.curve(GaussianPrior(), ProbitChannel(1.0, 0.2),
                                             alphas).q, atol=1e-10)


@pytest.mark.parametrize(
    "prior,channel,damping",
    [(GaussianPrior(), ProbitChannel(1.0, 0.0), 0.0),
     (BernoulliGaussianPrior(0.1), GaussianChannel(1.0, 1e-3), 0.0)],
    ids=["gauss-sign", "bg-gauss"],
)
def test_gamp_tracks_state_evolution(prior, channel, damping):
    d, alpha = 4000, 2.0 if channel.binary else 0.6
    rng = np.random.default_rng(5)
    n = int(alpha * d)
    X = rng.standard_normal((n, d))
    w = prior.sample(d, rng)
    y = channel.sample(X @ w / math.sqrt(d), rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = gamp(X, y, prior, channel, x_true=w, max_iter=10, damping=damping)
    tr = se.track(res, prior, channel, alpha)
    for t in range(10):
        emp, th = tr["mse_gamp"][t], tr["mse_se"][t]
        assert abs(emp - th) <= max(0.05 * th, 0.01), (t, emp, th)


def test_state_evolution_bad_input():
    with pytest.raises(ValueError, match="alpha"):
        se.solve(GaussianPrior(), GaussianChannel(), -1.0)
    with pytest.raises(ValueError, match="init"):
        se.solve(GaussianPrior(), GaussianChannel(), 1.0, init="warm")
    with pytest.raises(ValueError, match="alpha_range"):
        se.find_transitions(BinaryPrior(), ProbitChannel(), (2.0, 1.0))


@pytest.mark.parametrize("prior", [GaussianPrior(), BernoulliGaussianPrior(0.1), BinaryPrior(),
                                   GaussianMixturePrior()], ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("channel", [GaussianChannel(1.0, 1e-10), ProbitChannel(1.0, 0.0),
                                     GenericChannel("tanh", 1.0, 0.0, 1e-3)],
                         ids=lambda o: type(o).__name__)
def test_no_nan_over_wide_alpha_range(prior, channel):
    c = se.curve(prior, channel, np.geomspace(1e-4, 1e3, 8), max_iter=3000)
    for field in ("q", "q_hat", "mse", "generalization_error", "free_entropy",
                  "mutual_information"):
        assert np.all(np.isfinite(getattr(c, field))), field
