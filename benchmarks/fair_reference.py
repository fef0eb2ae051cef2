"""The plain-numpy reference the fit and bootstrap benchmarks time tsbudget against (issue 15).

What a competent user writes for the Chinchilla fit (Hoffmann et al. 2022, App. D.2 eq. 3;
Besiroglu et al. 2024: the Huber loss summed, not averaged): the objective

    Σ_i Huber_δ( LSE(a − α log N_i, b − β log D_i, e) − log L_i ),    δ = 1e-3,

over x = (e, a, b, α, β) = (log E, log A, log B, α, β), value and analytic gradient in one
fused numpy pass, minimised by scipy's L-BFGS-B from each start. None of tsbudget is used
here, so the reference cannot inherit tsbudget's overheads.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import minimize

DELTA = 1e-3


def value_and_grad(x, logN, logD, logL, delta=DELTA):
    """Σ Huber_δ(log L̂ − log L) and its gradient in x = (e, a, b, α, β), one point.

    log L̂ = LSE(e, a − α log N, b − β log D) (Hoffmann et al. 2022 App. D.2); Huber's value
    is c·(r − c/2) and its derivative c, with c = clip(r, −δ, δ) (Huber 1964)."""
    e, a, b, al, be = x
    t1 = a - al * logN
    t2 = b - be * logD
    m = np.maximum(np.maximum(t1, t2), e)
    p0, p1, p2 = np.exp(e - m), np.exp(t1 - m), np.exp(t2 - m)
    s = p0 + p1 + p2
    r = m + np.log(s) - logL
    c = np.clip(r, -delta, delta)
    w = c / s  # dHuber/dr · d log L̂/d(term) = c · p_k/s
    w1, w2 = w * p1, w * p2
    g = np.array([w @ p0, w1.sum(), w2.sum(), -(w1 @ logN), -(w2 @ logD)])
    return float(c @ (r - 0.5 * c)), g


def batched_value_and_grad(X, logN, logD, logL, delta=DELTA):
    """The same for many points at once: X (S, 5) -> values (S,), gradients (S, 5)."""
    e, a, b, al, be = (X[:, j : j + 1] for j in range(5))
    t1 = a - al * logN
    t2 = b - be * logD
    m = np.maximum(np.maximum(t1, t2), e)
    p0, p1, p2 = np.exp(e - m), np.exp(t1 - m), np.exp(t2 - m)
    s = p0 + p1 + p2
    r = m + np.log(s) - logL
    c = np.clip(r, -delta, delta)
    w = c / s
    w1, w2 = w * p1, w * p2
    g = np.stack([(w * p0).sum(1), w1.sum(1), w2.sum(1), -(w1 @ logN), -(w2 @ logD)], axis=1)
    return (c * (r - 0.5 * c)).sum(1), g


def batched_value(X, logN, logD, logL, delta=DELTA):
    """The objective alone for many points: X (S, 5) -> values (S,)."""
    e, a, b, al, be = (X[:, j : j + 1] for j in range(5))
    t1 = a - al * logN
    t2 = b - be * logD
    m = np.maximum(np.maximum(t1, t2), e)
    r = m + np.log(np.exp(e - m) + np.exp(t1 - m) + np.exp(t2 - m)) - logL
    c = np.clip(r, -delta, delta)
    return (c * (r - 0.5 * c)).sum(1)


def batched_value_grad_hess(X, logN, logD, logL, W=None, delta=DELTA):
    """Value, gradient and Hessian for many points, each with its run weights W (S, runs):
    log L̂ = LSE(u), u = (e, a − α log N, b − β log D) linear in x, so with the shares s the
    Jacobian is J = (s_e, s_a, s_b, −s_a log N, −s_b log D) and the Hessian of log L̂ is
    Mᵀ diag(s) M − J Jᵀ (log-sum-exp); Huber's ψ = c, ψ' = 1{|r| ≤ δ}. Plain numpy, no tsbudget."""
    W = np.ones((len(X), logN.size)) if W is None else W
    e, a, b, al, be = (X[:, j : j + 1] for j in range(5))
    t1, t2 = a - al * logN, b - be * logD
    m = np.maximum(np.maximum(t1, t2), e)
    p0, p1, p2 = np.exp(e - m), np.exp(t1 - m), np.exp(t2 - m)
    tot = p0 + p1 + p2
    r = m + np.log(tot) - logL
    c = np.clip(r, -delta, delta)
    f = (W * c * (r - 0.5 * c)).sum(1)
    s0, s1, s2 = p0 / tot, p1 / tot, p2 / tot
    J = np.stack([s0, s1, s2, -s1 * logN, -s2 * logD], 1)  # (S, 5, runs)
    v = W * c
    g = np.einsum("kjr,kr->kj", J, v)
    H = np.matmul(J * (W * ((np.abs(r) <= delta) - c))[:, None, :], J.transpose(0, 2, 1))
    for i, j, col in ((0, 0, 0), (1, 1, 1), (2, 2, 2), (1, 3, 3), (3, 1, 3), (2, 4, 4), (4, 2, 4)):
        H[:, i, j] += g[:, col]
    H[:, 3, 3] += (v * s1 * logN**2).sum(1)
    H[:, 4, 4] += (v * s2 * logD**2).sum(1)
    return f, g, H


def element_cost(X, logN, logD, logL, block=256, repeat=5, kernel=None) -> float:
    """Seconds per start×run element of one vectorised value-and-gradient (or ``kernel``) over
    all of ``X`` (in blocks of ``block`` starts, so the temporaries stay in cache): best of ``repeat``."""
    kernel = batched_value_and_grad if kernel is None else kernel
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        for i in range(0, len(X), block):
            kernel(X[i : i + block], logN, logD, logL)
        best = min(best, time.perf_counter() - t)
    return best / (len(X) * logN.size)


def lbfgsb(x0, logN, logD, logL, **options):
    """One scipy L-BFGS-B run from ``x0`` (unbounded, analytic gradient)."""
    return minimize(value_and_grad, x0, args=(logN, logD, logL), jac=True, method="L-BFGS-B", options=options)
