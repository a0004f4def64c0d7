"""Priors against direct numerical integration (mpmath) and finite-difference identities."""

import math

import mpmath as mp
import numpy as np
import pytest

from deepgep.amp import BernoulliGaussianPrior, BinaryPrior, GaussianMixturePrior, GaussianPrior

mp.mp.dps = 30

PRIORS = {
    "gaussian": GaussianPrior(0.3, 2.0),
    "bernoulli-gaussian": BernoulliGaussianPrior(0.1, 0.5, 1.5),
    "binary": BinaryPrior(),
    "mixture": GaussianMixturePrior((0.2, 0.5, 0.3), (-1.0, 0.0, 2.0), (0.3, 0.0, 0.5)),
}

GRID = [(A, B) for A in (1e-8, 0.3, 5.0, 1e3) for B in (-40.0, -2.0, 0.0, 0.7, 40.0)]


def _reference(prior, A, B):
    """ln Z, mean, variance of P0(w) exp(-A w²/2 + B w) by adaptive quadrature / exact sums."""
    A, B = mp.mpf(A), mp.mpf(B)
    terms = []  # (weight, Z_k, M1_k, M2_k)
    if isinstance(prior, BinaryPrior):
        for w in (-1, 1):
            e = mp.e ** (-A / 2 + B * w)
            terms.append((mp.mpf(0.5), e, e * w, e))
    else:
        if isinstance(prior, GaussianPrior):
            comps = [(1.0, prior.prior_mean, prior.prior_variance)]
        else:
            comps = list(zip(prior.weights, prior.means, prior.variances, strict=True))
        for p, m, v in comps:
            if v == 0:
                e = mp.e ** (-A * m * m / 2 + B * m)
                terms.append((mp.mpf(p), e, e * m, e * m * m))
                continue
            m, v = mp.mpf(m), mp.mpf(v)
            prec = 1 / v + A
            mode = (m / v + B) / prec
            sd = 1 / mp.sqrt(prec)

            def dens(w, m=m, v=v):
                return mp.npdf(w, m, mp.sqrt(v)) * mp.e ** (-A * w * w / 2 + B * w)

            lo, hi = mode - 40 * sd, mode + 40 * sd
            pts = [lo, mode - 5 * sd, mode, mode + 5 * sd, hi]
            Z = mp.quad(dens, pts)
            M1 = mp.quad(lambda w, dens=dens: w * dens(w), pts)
            M2 = mp.quad(lambda w, dens=dens: w * w * dens(w), pts)
            terms.append((mp.mpf(p), Z, M1, M2))
    Z = sum(p * z for p, z, _, _ in terms)
    M1 = sum(p * a for p, _, a, _ in terms) / Z
    M2 = sum(p * b for p, _, _, b in terms) / Z
    return float(mp.log(Z)), float(M1), float(M2 - M1 * M1)


@pytest.mark.parametrize("name", list(PRIORS))
def test_denoiser_matches_numerical_integration(name):
    prior = PRIORS[name]
    for A, B in GRID:
        lz_ref, m_ref, v_ref = _reference(prior, A, B)
        mean, var = prior.denoise(A, np.array([B]))
        lz = prior.log_partition(A, np.array([B]))
        assert np.all(np.isfinite([mean[0], var[0], lz[0]]))
        assert mean[0] == pytest.approx(m_ref, rel=1e-9, abs=1e-12), (A, B)
        assert var[0] == pytest.approx(v_ref, rel=1e-6, abs=1e-12), (A, B)
        assert lz[0] == pytest.approx(lz_ref, rel=1e-10, abs=1e-9), (A, B)


@pytest.mark.parametrize("name", list(PRIORS))
def test_derivative_identities(name):
    prior = PRIORS[name]
    h = 1e-5
    B = np.linspace(-6, 6, 41)
    for A in (0.05, 1.0, 7.0):
        mean, var = prior.denoise(A, B)
        dlz = (prior.log_partition(A, B + h) - prior.log_partition(A, B - h)) / (2 * h)
        dmean = (prior.denoise(A, B + h)[0] - prior.denoise(A, B - h)[0]) / (2 * h)
        np.testing.assert_allclose(dlz, mean, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(dmean, var, rtol=1e-5, atol=1e-8)
        # d lnZ / dA = -E[w²]/2
        dA = (prior.log_partition(A + h, B) - prior.log_partition(A - h, B)) / (2 * h)
        np.testing.assert_allclose(dA, -(var + mean**2) / 2, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", list(PRIORS))
def test_atoms_and_sampling_moments(name):
    prior = PRIORS[name]
    pts, wts = prior.atoms(64)
    assert wts.sum() == pytest.approx(1.0)
    s = prior.sample(400_000, rng=1)
    assert s.mean() == pytest.approx(prior.mean, abs=0.01)
    assert (s**2).mean() == pytest.approx(prior.second_moment, rel=0.01)
    assert prior.variance == pytest.approx(prior.second_moment - prior.mean**2)


def test_bad_prior_parameters():
    with pytest.raises(ValueError, match="prior_variance"):
        GaussianPrior(0.0, -1.0)
    with pytest.raises(ValueError, match="sparsity"):
        BernoulliGaussianPrior(1.5)
    with pytest.raises(ValueError, match="weights"):
        GaussianMixturePrior((0.5, 0.6), (0, 1), (1, 1))
    with pytest.raises(ValueError, match="variances"):
        GaussianMixturePrior((0.5, 0.5), (0, 1), (1, -1))
    assert math.isfinite(GaussianPrior().second_moment)
