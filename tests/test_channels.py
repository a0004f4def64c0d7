"""Channels against direct numerical integration (mpmath) and finite-difference identities."""

import mpmath as mp
import numpy as np
import pytest

from deepgep.amp import GaussianChannel, GenericChannel, ProbitChannel

mp.mp.dps = 20


def _breakpoints(fn):
    """Quadrature breakpoints around the peak of a positive integrand (found on a grid)."""
    grid = [mp.mpf(k) / 4 for k in range(-400, 401)]
    vals = [fn(t) for t in grid]
    peak = grid[max(range(len(grid)), key=lambda i: vals[i])]
    return mp.linspace(peak - 14, peak + 14, 113)


@mp.workdps(50)
def _probit_reference(channel, y, w, V):
    # ζ and the probit noise combine into one Gaussian of sd S: Z = ∫_a^∞ φ(t) dt.
    c = mp.mpf(channel.scale)
    S = mp.sqrt(channel.noise_variance + c * c * V)
    a = -y * c * w / S
    # 50-digit tail integral (adaptive quadrature loses the digits R(a - R) needs past |a|~30)
    Z = mp.ncdf(-a)
    k = y * c / S
    g = k * mp.npdf(a) / Z
    return float(mp.log(Z)), float(g), float(k * k * a * mp.npdf(a) / Z - g * g)


def _reference(channel, y, w, V):
    """ln Z_out, g_out and ∂g_out by quadrature over ζ of P_out(y | ω + √V ζ)."""
    y, w, V = mp.mpf(y), mp.mpf(w), mp.mpf(V)
    c = mp.mpf(channel.scale)

    if isinstance(channel, GaussianChannel):
        N = mp.mpf(channel.noise_variance)
        s = N + c * c * V  # the ζ-integral of a Gaussian is Gaussian: check by quadrature

        def P(h):
            return mp.npdf(y, c * h, mp.sqrt(N))

        def dP(h):
            return P(h) * c * (y - c * h) / N

        def d2P(h):
            return P(h) * ((c * (y - c * h) / N) ** 2 - c * c / N)

        del s
    elif isinstance(channel, ProbitChannel):
        # ζ and the probit noise combine into one Gaussian of sd S: Z = ∫_a^∞ φ(t) dt.
        return _probit_reference(channel, y, w, V)
    else:
        # Generic: ζ and the inner noise combine into one Gaussian of variance S².
        S = mp.sqrt(c * c * V + channel.inner_variance)
        D = mp.mpf(channel.noise_variance)
        f = {"tanh": mp.tanh, "linear": lambda x: x, "erf": mp.erf}[channel.function]

        def integrand(t, k):
            val = mp.npdf(y, f(c * w + S * t), mp.sqrt(D)) * mp.npdf(t)
            return val * [1, t, t * t - 1][k]

        Z, Z1, Z2 = (mp.quad(lambda t, k=k: integrand(t, k), mp.linspace(-14, 14, 57))
                     for k in range(3))
        g = (c / S) * Z1 / Z
        return float(mp.log(Z)), float(g), float((c / S) ** 2 * Z2 / Z - g * g)

    sV = mp.sqrt(V)
    pts = _breakpoints(lambda t: mp.npdf(t) * P(w + sV * t))
    Z = mp.quad(lambda t: mp.npdf(t) * P(w + sV * t), pts)
    Z1 = mp.quad(lambda t: mp.npdf(t) * dP(w + sV * t), pts)
    Z2 = mp.quad(lambda t: mp.npdf(t) * d2P(w + sV * t), pts)
    g = Z1 / Z
    return float(mp.log(Z)), float(g), float(Z2 / Z - g * g)


def _check(channel, y, w, V, rtol):
    lz_ref, g_ref, dg_ref = _reference(channel, y, w, V)
    g, dg = channel.output(np.array([y]), np.array([w]), V)
    lz = channel.log_partition(np.array([y]), np.array([w]), V)
    assert np.all(np.isfinite([g[0], dg[0], lz[0]]))
    assert lz[0] == pytest.approx(lz_ref, rel=rtol, abs=1e-9), (y, w, V)
    assert g[0] == pytest.approx(g_ref, rel=rtol, abs=1e-9), (y, w, V)
    assert dg[0] == pytest.approx(dg_ref, rel=10 * rtol, abs=1e-8), (y, w, V)


@pytest.mark.parametrize("w", [-40.0, -3.0, 0.0, 0.5, 40.0])
@pytest.mark.parametrize("V", [1e-8, 0.3, 2.0])
def test_gaussian_channel(w, V):
    ch = GaussianChannel(scale=0.8, noise_variance=0.2)
    for y in (-30.0, 0.3, 25.0):
        _check(ch, y, w, V, 1e-9)


@pytest.mark.parametrize("w", [-40.0, -3.0, 0.0, 0.5, 40.0])
@pytest.mark.parametrize("V", [1e-8, 0.3, 2.0])
@pytest.mark.parametrize("N", [1e-4, 0.5])
def test_probit_channel(w, V, N):
    ch = ProbitChannel(scale=1.3, noise_variance=N)
    for y in (-1.0, 1.0):
        _check(ch, y, w, V, 1e-7)


def test_noiseless_sign_channel_deep_tail():
    ch = ProbitChannel(noise_variance=0.0)
    y = np.array([1.0, -1.0, 1.0, -1.0])
    w = np.array([-1e3, 1e3, 1e3, -1e3])
    for V in (1e-12, 1e-8, 1.0, 1e6):
        g, dg = ch.output(y, w, V)
        lz = ch.log_partition(y, w, V)
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(dg)) and np.all(np.isfinite(lz))
        assert np.all(dg <= 0)
    # against the exact value Z = Φ(y ω/√V) at a moderate point
    lz = ch.log_partition(np.array([-1.0]), np.array([3.0]), 0.25)
    assert lz[0] == pytest.approx(float(mp.log(mp.ncdf(-6))), rel=1e-12)


@pytest.mark.parametrize("fn", ["tanh", "linear", "erf"])
@pytest.mark.parametrize("w", [-2.0, 0.0, 0.7])
def test_generic_channel(fn, w):
    ch = GenericChannel(fn, scale=0.9, inner_variance=0.2, noise_variance=0.5, n_nodes=96)
    for y in (-1.2, 0.1, 0.9):
        for V in (1e-8, 0.4):
            _check(ch, y, w, V, 1e-7)


def test_generic_linear_equals_gaussian():
    gen = GenericChannel("linear", scale=0.7, inner_variance=0.3, noise_variance=0.2)
    gau = GaussianChannel(scale=0.7, noise_variance=0.5)
    rng = np.random.default_rng(0)
    y, w = rng.normal(size=50), rng.normal(size=50)
    for a, b in zip(gen.output(y, w, 0.6), gau.output(y, w, 0.6), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gen.log_partition(y, w, 0.6), gau.log_partition(y, w, 0.6),
                               rtol=1e-10)
    np.testing.assert_allclose(gen.predict(w, 0.6), gau.predict(w, 0.6), atol=1e-12)
    np.testing.assert_allclose(gen.predict_variance(w, 0.6), gau.predict_variance(w, 0.6),
                               rtol=1e-10)


CHANNELS = [
    GaussianChannel(1.2, 0.3),
    ProbitChannel(0.8, 0.2),
    # 200 nodes: the identities hold for the exact integrals; 64 nodes leave ~1e-4 at V = 1.
    GenericChannel("tanh", 1.0, 0.1, 0.3, n_nodes=200),
]


@pytest.mark.parametrize("ch", CHANNELS, ids=lambda c: type(c).__name__)
def test_derivative_identities(ch):
    rng = np.random.default_rng(3)
    w = rng.normal(size=30) * 2
    y = np.sign(rng.normal(size=30)) if ch.binary else rng.normal(size=30)
    h = 1e-5
    for V in (0.05, 1.0):
        g, dg = ch.output(y, w, V)
        dlz = (ch.log_partition(y, w + h, V) - ch.log_partition(y, w - h, V)) / (2 * h)
        dgn = (ch.output(y, w + h, V)[0] - ch.output(y, w - h, V)[0]) / (2 * h)
        np.testing.assert_allclose(dlz, g, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(dgn, dg, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ch", CHANNELS, ids=lambda c: type(c).__name__)
def test_prediction_and_sampling_agree(ch):
    """The Bayes prediction E[y|ω,V] equals the Monte Carlo mean of sampled labels."""
    rng = np.random.default_rng(7)
    omega, V = 0.6, 0.3
    z = omega + np.sqrt(V) * rng.standard_normal(400_000)
    y = ch.sample(z, rng)
    assert float(ch.predict(np.array([omega]), V)[0]) == pytest.approx(y.mean(), abs=0.005)
    assert float(ch.predict_variance(np.array([omega]), V)[0]) == pytest.approx(
        y.var(), rel=0.02)
    ys, ws = ch.predictive(np.array([omega]), V)
    assert float(np.sum(ws)) == pytest.approx(1.0)
    assert float(np.sum(ws * ys)) == pytest.approx(y.mean(), abs=0.005)


def test_bad_channel_parameters():
    with pytest.raises(ValueError, match="noise_variance"):
        GaussianChannel(1.0, -0.1)
    with pytest.raises(ValueError, match="scale"):
        ProbitChannel(0.0)
    with pytest.raises(ValueError, match="noise_variance"):
        GenericChannel("tanh", noise_variance=0.0)
    with pytest.raises(ValueError, match="unknown function name"):
        GenericChannel("softsign")
