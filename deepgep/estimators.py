"""scikit-learn estimators backed by GAMP: :class:`GAMPRegressor` and :class:`GAMPClassifier`.

The model is the GLM ``y ~ P_out(· | X w / √d)`` with ``w ~ prior`` (math.md §3); in
teacher-aware mode (``activation`` and ``depth`` given) it is the GLM equivalent to a deep
random-network teacher (math.md §2.4), which makes GAMP's estimate Bayes-optimal for that
teacher. ``predict`` is the posterior predictive mean under the (effective) channel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from . import state_evolution as se
from .amp import Channel, GaussianChannel, ProbitChannel, gamp, make_prior
from .amp.learning import learnable
from .amp.operators import CenteredOperator, as_operator
from .backend import is_numpy, namespace
from .equivalence import equivalent_glm

__all__ = ["GAMPRegressor", "GAMPClassifier"]


def _dtype_arg(dtype: Any) -> Any:
    if dtype is None:
        return [np.float64, np.float32]
    if dtype in ("float32", "float64", np.float32, np.float64):
        return np.dtype(dtype).type
    raise ValueError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}")


def _array_api_input(X: Any) -> bool:
    """A non-NumPy array-API array (CuPy, array-api-strict), kept in its own namespace."""
    if isinstance(X, np.ndarray) or sp.issparse(X):
        return False
    return hasattr(X, "__array_namespace__") or type(X).__module__.startswith("cupy")


def _assert_finite(X: Any) -> None:
    """scikit-learn's NaN/inf error for ``X`` (any namespace); nothing when ``X`` is finite."""
    if not _array_api_input(X):
        assert_all_finite(X, input_name="X")
    elif not bool(namespace(X).all(namespace(X).isfinite(X))):
        raise ValueError("Input X contains NaN or infinity.")


class _GAMPBase(BaseEstimator):
    """Shared fitting logic; subclasses define the channel and the label handling."""

    _binary = False

    # -- validation ----------------------------------------------------------------------
    def _validate_fit(self, X: Any, y: Any) -> tuple[Any, Any]:
        if not _array_api_input(X):
            # X's finiteness is checked by the set-up pass of the fit (_design), not here:
            # one pass over X fewer.
            X, y = validate_data(
                self, X, y, accept_sparse="csr", dtype=_dtype_arg(self.dtype),
                y_numeric=not self._binary, multi_output=not self._binary,
                ensure_all_finite=False,
            )
            return X, y
        # Array-API inputs (CuPy, array-api-strict): validated in their own namespace
        # (finiteness by the set-up pass of the fit, as for NumPy).
        xp = namespace(X)
        X = self._check_array_api(X, reset=True)
        y = xp.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}")
        return X, y

    def _check_array_api(self, X: Any, reset: bool) -> Any:
        xp = namespace(X)
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D array, got shape {tuple(X.shape)}")
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X must be non-empty, got shape {tuple(X.shape)}")
        want = xp.float32 if (self.dtype == "float32" or (self.dtype is None
                                                          and X.dtype == xp.float32)) \
            else xp.float64
        if X.dtype != want:
            X = xp.astype(X, want)
        # At fit, the set-up pass checks X (_fit_gamp); here NaN/inf propagate into the sum
        # (one reduction), and only then the exact elementwise test runs.
        if not reset and not math.isfinite(float(xp.sum(X))):
            _assert_finite(X)
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        return X

    def _validate_predict(self, X: Any) -> Any:
        check_is_fitted(self)
        if not _array_api_input(X):
            return validate_data(self, X, accept_sparse="csr", dtype=_dtype_arg(self.dtype),
                                 reset=False)
        return self._check_array_api(X, reset=False)

    # -- the model -----------------------------------------------------------------------
    def _model(self) -> tuple[Any, Channel]:
        if self.activation is not None:
            if self.depth is None:
                raise ValueError("depth must be given with activation (teacher-aware mode)")
            glm = equivalent_glm(self.activation, self.depth, self._readout(),
                                 self.label_noise)
            return glm.prior, glm.channel
        if self.depth is not None:
            raise ValueError("activation must be given with depth (teacher-aware mode)")
        return make_prior(self.prior), self._plain_channel()

    def _check_params(self) -> None:
        for name in ("max_iter",):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise ValueError(f"tol must be a positive number, got {self.tol!r}")

    def _fit_gamp(self, X: Any, y: Any) -> Any:
        self._check_params()
        prior, channel = self._model()
        if self.learn_channel and not learnable(channel):
            raise ValueError(
                f"learn_channel=True needs a Gaussian or probit channel, not "
                f"{type(channel).__name__} (readout={self._readout()!r})"
            )
        if self.fit_intercept and X.shape[0] < 2:
            raise ValueError(f"fit_intercept=True needs at least 2 samples, got {X.shape[0]} "
                             "sample")
        design = base = as_operator(X)
        # One set-up pass gives Xᵀ1 and ‖X‖_F² (reused by GAMP); a non-finite norm means
        # NaN/inf (reported as scikit-learn does) or an overflow (reported by gamp).
        col_sums = base.column_sums()
        if not math.isfinite(base.frobenius_sq):
            _assert_finite(X)
        if self.fit_intercept:
            mu = col_sums / X.shape[0]
            self.x_offset_ = np.asarray(mu, dtype=X.dtype) if sp.issparse(X) else mu
            design = CenteredOperator(X, self.x_offset_, base=base)
        else:
            self.x_offset_ = None
        res = gamp(design, y, prior, channel, max_iter=self.max_iter, tol=self.tol,
                   damping=self.damping, variance=self.variance,
                   learn_channel=bool(self.learn_channel), check_input=False,
                   callback=self._verbose_callback() if self.verbose else None)
        if "center" in res.extra:
            # GAMP's mean removal: the model is z = (x - μ)·w/√d + m (see deepgep.amp.gamp)
            self.x_offset_ = res.extra["center"]
            self.z_offset_ = res.extra["offset"]
        else:
            self.z_offset_ = 0.0
        self.coef_ = res.x_hat
        self.coef_var_ = res.x_var
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        self.history_ = res.history
        self.channel_ = res.channel
        self.prior_ = prior
        n, d = X.shape
        self.state_evolution_ = se.solve(prior, res.channel, n / d)
        return res

    def _verbose_callback(self) -> Any:
        def cb(t: int, state: dict[str, Any]) -> None:
            print(f"[{type(self).__name__}] iteration {t}: relative change {state['delta']:.3e}")
        return cb

    def _omega_V(self, X: Any) -> tuple[Any, Any]:
        """``ω = x·ŵ/√d`` and ``V = Σ x_i² v_i / d`` per row (rows centred if fitted so)."""
        d = X.shape[1]
        if sp.issparse(X):
            X = X.toarray() if self.x_offset_ is not None else X
            if self.x_offset_ is None:
                omega = X @ self.coef_ / math.sqrt(d)
                V = (X.multiply(X) @ self.coef_var_) / d
                return np.asarray(omega), np.asarray(V)
        xp = namespace(X)
        coef = xp.asarray(self.coef_, dtype=X.dtype) if is_numpy(xp) else self.coef_
        var = xp.asarray(self.coef_var_, dtype=X.dtype) if is_numpy(xp) else self.coef_var_
        if self.x_offset_ is not None:
            X = X - self.x_offset_
        omega = (X @ coef) / math.sqrt(d) + self.z_offset_
        V = ((X * X) @ var) / d
        return omega, V

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class GAMPRegressor(RegressorMixin, _GAMPBase):
    """Bayes-optimal regression by GAMP, for deep-teacher and any GLM data.

    Model: ``y = c·z + √N·noise``, ``z = x·w/√d``, ``w ~ prior``; or, in teacher-aware mode,
    the GLM equivalent to a deep teacher (``activation``, ``depth``, ``readout``,
    ``label_noise``; math.md §2.4).

    Parameters
    ----------
    prior : {"gaussian", "bernoulli-gaussian", "binary"} or Prior
        Prior on the weights (ignored in teacher-aware mode, whose prior is N(0, 1)).
    scale : float
        Channel gain ``c`` (initial value when ``learn_channel``).
    noise_variance : float
        Channel noise ``N`` (initial value when ``learn_channel``).
    activation : str, callable, list or None
        Hidden activation(s) of the teacher; with ``depth``, selects teacher-aware mode.
    depth : int or None
        Number of hidden layers of the teacher.
    readout : "linear", str or callable
        Teacher readout (an odd function uses the generic quadrature channel).
    label_noise : float
        Teacher's label-noise variance ``Δ``.
    learn_channel : bool
        Learn ``c`` and ``N`` by EM inside GAMP (for data of unknown architecture and noise).
    fit_intercept : bool
        Centre ``X`` and ``y`` by their training means (without copying ``X``). The model has
        no intercept (a deep teacher has no biases), hence the default ``False``.
    max_iter, tol, damping, variance :
        Passed to :func:`deepgep.amp.gamp` (``tol`` bounds the relative change of the
        weights, so the default 1e-4 leaves the predictions' error accurate to ~1e-8).
    dtype : None, "float32" or "float64"
        Working precision (None keeps float32 inputs in float32).
    verbose : int
        Print one line per iteration.

    Attributes
    ----------
    coef_, coef_var_ : arrays
        Posterior mean and variance of the weights.
    n_iter_, converged_, history_ :
        From the solver.
    channel_ : Channel
        The effective (teacher-aware) or learned channel.
    scale_, noise_variance_ : float
        Its parameters.
    state_evolution_ : SEResult
        The state-evolution prediction at ``α = n/d`` with the same prior and channel
        (``state_evolution_.generalization_error`` is the predicted test MSE).
    n_features_in_, feature_names_in_ :
        As in scikit-learn.
    """

    def __init__(
        self,
        prior: Any = "gaussian",
        scale: float = 1.0,
        noise_variance: float = 1.0,
        activation: Any = None,
        depth: int | None = None,
        readout: Any = "linear",
        label_noise: float = 0.0,
        learn_channel: bool = False,
        fit_intercept: bool = False,
        max_iter: int = 200,
        tol: float = 1e-4,
        damping: float | None = None,
        variance: str = "scalar",
        dtype: str | None = None,
        verbose: int = 0,
    ) -> None:
        self.prior = prior
        self.scale = scale
        self.noise_variance = noise_variance
        self.activation = activation
        self.depth = depth
        self.readout = readout
        self.label_noise = label_noise
        self.learn_channel = learn_channel
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.damping = damping
        self.variance = variance
        self.dtype = dtype
        self.verbose = verbose

    def _readout(self) -> Any:
        if self.readout == "sign":
            raise ValueError('readout="sign" is a classification readout: use GAMPClassifier')
        return self.readout

    def _plain_channel(self) -> Channel:
        return GaussianChannel(self.scale, self.noise_variance)

    def fit(self, X: Any, y: Any) -> GAMPRegressor:
        """Fit by GAMP. ``y`` may have several columns (targets share the passes over X).

        Returns
        -------
        self
        """
        X, y = self._validate_fit(X, y)
        if self.fit_intercept:
            self.y_offset_ = namespace(y).mean(y, axis=0)
            y = y - self.y_offset_
        else:
            self.y_offset_ = None
        self._fit_gamp(X, y)
        ch = self.channel_
        self.scale_ = float(ch.scale)
        self.noise_variance_ = float(ch.noise_variance)
        return self

    def predict(self, X: Any, return_std: bool = False) -> Any:
        """Posterior predictive mean ``E[y | x, data]`` (and its standard deviation).

        Parameters
        ----------
        X : array (n, d)
        return_std : bool
            Also return the predictive standard deviation, like BayesianRidge.
        """
        X = self._validate_predict(X)
        omega, V = self._omega_V(X)
        mean = self.channel_.predict(omega, V)
        if self.y_offset_ is not None:
            mean = mean + self.y_offset_
        if not return_std:
            return mean
        xp = namespace(mean)
        return mean, xp.sqrt(self.channel_.predict_variance(omega, V))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class GAMPClassifier(ClassifierMixin, _GAMPBase):
    """Bayes-optimal binary classification by GAMP with a probit/sign channel.

    Model: ``y = sign(c·z + √N·ξ)`` (``N = 0``: noiseless sign), ``z = x·w/√d``; or, in
    teacher-aware mode, the GLM equivalent to a deep teacher with a sign readout.
    The two classes are mapped to ``-1`` (``classes_[0]``) and ``+1`` (``classes_[1]``).

    Parameters
    ----------
    prior : {"gaussian", "bernoulli-gaussian", "binary"} or Prior
    scale : float
        Channel gain ``c``.
    noise_variance : float
        Probit variance ``N`` (0 = sign); the initial value when ``learn_channel``.
    activation, depth, label_noise :
        Teacher-aware mode (sign readout; label noise before the sign).
    learn_channel : bool
        Learn the probit variance inside GAMP (only ``c/√N`` is identifiable).
    fit_intercept : bool
        Centre ``X`` by its training mean (decision boundary through the data mean).
    max_iter, tol, damping, variance, dtype, verbose :
        As for :class:`GAMPRegressor`.

    Attributes
    ----------
    classes_ : array of shape (2,)
    coef_, coef_var_, n_iter_, converged_, history_, channel_, noise_variance_ :
    state_evolution_ : SEResult
        ``state_evolution_.classification_error`` is the predicted test 0-1 error.
    """

    _binary = True

    def __init__(
        self,
        prior: Any = "gaussian",
        scale: float = 1.0,
        noise_variance: float = 0.0,
        activation: Any = None,
        depth: int | None = None,
        label_noise: float = 0.0,
        learn_channel: bool = False,
        fit_intercept: bool = False,
        max_iter: int = 200,
        tol: float = 1e-4,
        damping: float | None = None,
        variance: str = "scalar",
        dtype: str | None = None,
        verbose: int = 0,
    ) -> None:
        self.prior = prior
        self.scale = scale
        self.noise_variance = noise_variance
        self.activation = activation
        self.depth = depth
        self.label_noise = label_noise
        self.learn_channel = learn_channel
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.damping = damping
        self.variance = variance
        self.dtype = dtype
        self.verbose = verbose

    def _readout(self) -> str:
        return "sign"

    def _plain_channel(self) -> Channel:
        return ProbitChannel(self.scale, self.noise_variance)

    def fit(self, X: Any, y: Any) -> GAMPClassifier:
        """Fit by GAMP on two-class labels.

        Returns
        -------
        self
        """
        X, y = self._validate_fit(X, y)
        xp = namespace(X) if not sp.issparse(X) else np
        y_host = np.asarray(y) if is_numpy(namespace(y)) else None
        if y_host is not None:
            check_classification_targets(y_host)
            y_type = type_of_target(y_host, input_name="y", raise_unknown=True)
            if y_type not in ("binary", "unary") and len(np.unique(y_host)) > 2:
                raise ValueError(
                    "Only binary classification is supported. The type of the target "
                    f"is {y_type}."
                )
            self.classes_, inv = np.unique(y_host, return_inverse=True)
            if len(self.classes_) != 2:
                raise ValueError(
                    "GAMPClassifier needs two classes in y, got 1 class "
                    f"({self.classes_.tolist()})"
                )
            dt = X.dtype if not sp.issparse(X) else np.float64
            y_pm = np.where(inv == 1, 1.0, -1.0).astype(dt)
        else:
            self.classes_ = xp.unique_values(y)
            if self.classes_.shape[0] != 2:
                raise ValueError("GAMPClassifier is binary: y must have exactly two classes")
            one = xp.ones(y.shape, dtype=X.dtype)
            y_pm = xp.where(y == self.classes_[1], one, -one)
        self._fit_gamp(X, y_pm)
        self.scale_ = float(self.channel_.scale)
        self.noise_variance_ = float(self.channel_.noise_variance)
        return self

    def decision_function(self, X: Any) -> Any:
        """Margin ``c ω / √(N + c² V)``: positive for ``classes_[1]``; ``Φ`` of it is the
        probability of ``classes_[1]``."""
        X = self._validate_predict(X)
        omega, V = self._omega_V(X)
        ch = self.channel_
        xp = namespace(omega)
        return ch.scale * omega / xp.sqrt(xp.maximum(ch.noise_variance + ch.scale**2 * V,
                                                     1e-24))

    def predict_proba(self, X: Any) -> Any:
        """Posterior predictive probabilities, columns ordered as ``classes_``."""
        X = self._validate_predict(X)
        omega, V = self._omega_V(X)
        p = self.channel_.predict_proba(omega, V)
        xp = namespace(p)
        return xp.stack([1.0 - p, p], axis=1)

    def predict(self, X: Any) -> Any:
        """The most probable class."""
        margin = self.decision_function(X)
        xp = namespace(margin)
        idx = xp.astype(margin > 0, xp.int64)
        return xp.take(self.classes_, idx) if not is_numpy(xp) else self.classes_[
            np.asarray(idx)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
