"""Run-to-run noise for a sweep design: the noise of the fitted runs, and its Huber-loss equivalent.

:func:`noise_from_fit` estimates the log-loss noise per run from a fit's residuals;
:func:`huber_noise` converts a noise level into the least-squares-equivalent noise of a
Huber-loss refit (the refit a sweep feeds). Used by :mod:`tsbudget.sweeps.design`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DEFAULT_DELTA", "NOISE_FLOOR", "NOISE_WITHOUT_FIT", "huber_noise", "noise_from_fit"]

NOISE_FLOOR = 1e-3  # run-to-run (seed) spread of log-loss is rarely below 0.1%; an exact fit says nothing
#: Log-loss noise per run when there are no fitted runs to estimate it from: the residual noise of
#: the Besiroglu et al. 2024 refit of the Chinchilla Figure 4 runs (240 runs, the 5 highest-loss
#: dropped; :func:`noise_from_fit` gives 0.00643; pinned by tests/sweeps/test_noise_default.py).
NOISE_WITHOUT_FIT = 0.0064
DEFAULT_DELTA = 1e-3  # the fit's default Huber delta (Hoffmann et al. 2022, App. D.2)


def noise_from_fit(fit_result) -> float | None:
    """Log-loss noise per run estimated from the fit's residuals ``r = log L_obs − log L_fit``.

    The residual variance ``s² = Σr²/(n − p)`` (``p`` free parameters; the classical unbiased
    estimate of nonlinear least squares, Seber & Wild 1989, *Nonlinear Regression*, ch. 2),
    with each residual winsorised at five robust standard deviations
    ``5·1.4826·MAD(r)·√(n/(n − p))`` (the MAD scaled to be consistent for Gaussian noise,
    Hampel 1974) so that a diverged run does not set the noise. Why not the MAD alone: the
    Huber fit (δ = 1e-3, far below typical noise) behaves like L1 regression and sets about
    ``p`` residuals to zero, so the MAD of its residuals is biased low (on runs with noise 0.005 it averaged 0.0042,
    and read 0.0022 on one data set; this estimate averaged 0.0051).
    ``None`` for a fit without runs or with ``n <= p``.
    """
    runs = getattr(fit_result, "runs", None)
    if runs is None or "loss" not in runs.columns:  # a fit loaded from a summary has no residuals
        return None
    with np.errstate(all="ignore"):
        r = np.log(runs["loss"].to_numpy()) - np.log(np.asarray(fit_result.predict(), float))
    n, p = r.size, len(getattr(fit_result, "free", ()) or ())
    if n <= p or not np.all(np.isfinite(r)):
        return None
    dof = n / (n - p)
    robust = 1.4826 * float(np.median(np.abs(r - np.median(r)))) * math.sqrt(dof)
    clipped = np.clip(r, -5 * robust, 5 * robust)
    return max(math.sqrt(float(np.sum(clipped**2)) / (n - p)), NOISE_FLOOR)


def huber_noise(sigma, delta) -> np.ndarray:
    """Effective noise of a Huber-loss fit: ``√κ`` with ``κ = E[ψ²] / E[ψ']²``.

    Huber 1973 ("Robust regression: asymptotics, conjectures and Monte Carlo", Ann. Stat.
    1:799): an M-estimate with score ``ψ`` has asymptotic covariance ``κ·(JᵀJ)⁻¹``, i.e. it
    behaves like least squares with noise variance ``κ``. For ``ψ(r) = clip(r, −δ, δ)`` and
    Gaussian residuals of sd ``σ``, with ``c = δ/σ``::

        E[ψ']  = 2Φ(c) − 1
        E[ψ²]  = σ²·(2Φ(c) − 1 − 2c·φ(c) + 2c²·(1 − Φ(c)))

    ``κ → σ²`` as ``δ/σ → ∞`` (least squares) and ``κ → σ²·π/2`` as ``δ/σ → 0`` (L1).
    """
    from scipy.stats import norm

    sigma = np.asarray(sigma, float)
    c = np.asarray(delta, float) / sigma
    inside = 2 * norm.cdf(c) - 1
    second = inside - 2 * c * norm.pdf(c) + 2 * c**2 * norm.sf(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        # small c: both vanish like c (resp. c²); their limit is the L1 value π/2
        ratio = np.where(c > 1e-6, second / np.maximum(inside, 1e-300) ** 2, math.pi / 2)
    return sigma * np.sqrt(ratio)
