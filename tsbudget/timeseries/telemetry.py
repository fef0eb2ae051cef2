"""Seeded synthetic telemetry: a periodic normal state, rare regimes and interventions.

A small, real-looking example for the README session, tests and benchmarks. Each channel's
normal state is one periodic duty cycle (two harmonics of ``period`` with channel-specific
amplitude, phase and level) plus Gaussian sensor noise and a slow level drift — the quiet
pattern that dominates plant, fleet and datacenter telemetry. In between:

- **rare regimes** (label ``rare``): episodes of one to three periods where a random subset
  of channels misbehaves — a fast oscillation, a ramp drift, spikes, or a stuck (flat) sensor — each
  with its own random parameters, so no two episodes look alike;
- **interventions** (label ``intervention``): an operator moves a set point (channel 0) by a
  random step; the other channels follow with first-order lags (time constants of five to
  thirty steps); the period after the step is labelled.

Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed gives the same
table, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tsbudget.errors import InputError

__all__ = ["synthetic_telemetry", "telemetry_windows", "REGIMES"]

REGIMES = ("normal", "rare", "intervention")


def _check(value, name, low, integer=True):
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if not ok or isinstance(value, bool) or not np.isfinite(value) or value < low:
        raise InputError(f"{name} must be {'an integer' if integer else 'a number'} >= {low}, got {value!r}")


def _normal_state(rng, steps, channels, period, noise):
    t = np.arange(steps)[:, None]
    amp = rng.uniform(0.5, 2.0, channels)
    level = rng.uniform(-5.0, 5.0, channels)
    ph1, ph2 = rng.uniform(0, 2 * np.pi, (2, channels))
    w = 2 * np.pi / period
    shape = np.sin(w * t + ph1) + 0.4 * np.sin(2 * w * t + ph2)
    drift = np.cumsum(rng.standard_normal((steps, channels)), axis=0) * 1e-3
    x = level + amp * shape + drift + noise * amp * rng.standard_normal((steps, channels))
    return x, amp


def _rare_episode(rng, x, start, length, amp, period):
    c = np.flatnonzero(rng.random(x.shape[1]) < 0.5)  # a random subset of channels misbehaves
    if c.size == 0:
        c = rng.integers(x.shape[1], size=1)
    seg = slice(start, start + length)
    t = np.arange(length)[:, None]
    kind = rng.integers(4)
    if kind == 0:  # fast oscillation
        f = rng.uniform(3.0, 9.0, c.size) / period
        x[seg, c] += rng.uniform(2.0, 4.0, c.size) * amp[c] * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3, c.size))
    elif kind == 1:  # ramp drift
        x[seg, c] += rng.choice([-1, 1], c.size) * rng.uniform(4.0, 10.0, c.size) * amp[c] * t / length
    elif kind == 2:  # spikes
        hits = rng.choice(length, size=max(1, length // 8), replace=False)
        x[start + hits[:, None], c] += rng.uniform(6.0, 12.0, (hits.size, c.size)) * amp[c] * rng.choice([-1, 1], (hits.size, c.size))
    else:  # stuck sensors
        x[seg, c] = x[start, c]


def _intervention(rng, x, start, amp, period):
    rest = x.shape[0] - start
    t = np.arange(rest)[:, None]
    step = rng.choice([-1, 1]) * rng.uniform(2.0, 5.0)
    tau = rng.uniform(5.0, 30.0, x.shape[1])
    tau[0] = 0.5  # the set point itself moves at once
    gain = rng.uniform(-1.0, 1.0, x.shape[1])
    gain[0] = 1.0
    x[start:] += step * amp * gain * (1.0 - np.exp(-t / tau))


def synthetic_telemetry(
    steps: int = 20_000,
    channels: int = 4,
    *,
    period: int = 64,
    noise: float = 0.05,
    rare_rate: float = 0.02,
    intervention_rate: float = 0.01,
    seed: int = 0,
    as_xarray: bool = False,
):
    """A multichannel telemetry series with true regime labels.

    ``rare_rate`` and ``intervention_rate`` are expected events per ``period`` steps.
    Returns a polars DataFrame with columns ``time`` (1-minute timestamps), ``c0 .. c{C-1}``
    and ``regime`` (one of :data:`REGIMES`); with ``as_xarray`` an ``xarray.DataArray`` with
    dims ``(time, channel)`` and a ``regime`` coordinate along ``time``.
    """
    _check(steps, "steps", 2)
    _check(channels, "channels", 1)
    _check(period, "period", 2)
    _check(noise, "noise", 0, integer=False)
    _check(rare_rate, "rare_rate", 0, integer=False)
    _check(intervention_rate, "intervention_rate", 0, integer=False)
    rng = np.random.default_rng(seed)
    x, amp = _normal_state(rng, steps, channels, period, noise)
    regime = np.zeros(steps, dtype=np.int8)
    n_rare = rng.poisson(rare_rate * steps / period)
    for start in np.sort(rng.integers(0, steps, n_rare)):
        length = int(min(rng.integers(period, 3 * period + 1), steps - start))
        _rare_episode(rng, x, int(start), length, amp, period)
        regime[start : start + length] = 1
    n_int = rng.poisson(intervention_rate * steps / period)
    for start in np.sort(rng.integers(0, steps, n_int)):
        _intervention(rng, x, int(start), amp, period)
        regime[start : start + period] = 2
    labels = np.asarray(REGIMES)[regime]
    names = [f"c{i}" for i in range(channels)]
    if as_xarray:
        import xarray as xr

        time = np.datetime64("2024-01-01T00:00") + np.arange(steps).astype("timedelta64[m]")
        return xr.DataArray(
            x, dims=("time", "channel"), coords={"time": time, "channel": names, "regime": ("time", labels)},
            name="telemetry", attrs={"seed": seed, "period": period, "source": "tsbudget.timeseries.telemetry"},
        )
    import polars as pl
    from datetime import datetime, timedelta

    time = pl.datetime_range(datetime(2024, 1, 1), datetime(2024, 1, 1) + timedelta(minutes=steps - 1),
                             interval="1m", eager=True)
    return pl.DataFrame({"time": time, **{n: x[:, i] for i, n in enumerate(names)}, "regime": labels})


def telemetry_windows(
    windows: int,
    window: int = 64,
    channels: int = 8,
    *,
    chunk: int = 65_536,
    modes: int = 4,
    noise: float = 0.05,
    rare_share: float = 0.02,
    intervention_share: float = 0.01,
    seed: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Already-windowed telemetry, streamed as ``(chunk (m, window, channels) float32, labels)``.

    For benchmarks that need more windows than fit in memory: normal windows are one of
    ``modes`` operating patterns (one duty cycle per window) with noise, offset and gain;
    a ``rare_share`` of windows are random distinct shapes; an ``intervention_share`` hold a
    set-point step at a random time with lagged responses. Labels are :data:`REGIMES` names.
    """
    _check(windows, "windows", 1)
    _check(window, "window", 2)
    _check(channels, "channels", 1)
    _check(modes, "modes", 1)
    rng = np.random.default_rng(seed)
    t = np.arange(window, dtype=np.float32)
    w = 2 * np.pi / window
    ph = rng.uniform(0, 2 * np.pi, (modes, 2, channels)).astype(np.float32)
    patterns = np.sin(w * t[None, :, None] + ph[:, None, 0]) + 0.4 * np.sin(2 * w * t[None, :, None] + ph[:, None, 1])
    tau = rng.uniform(3.0, 20.0, channels).astype(np.float32)
    for start in range(0, windows, chunk):
        m = min(chunk, windows - start)
        kind = rng.choice(3, size=m, p=[1 - rare_share - intervention_share, rare_share, intervention_share])
        x = patterns[rng.integers(modes, size=m)]
        x += noise * rng.standard_normal((m, window, channels), dtype=np.float32)
        rare = np.flatnonzero(kind == 1)
        if rare.size:
            x[rare] = rng.standard_normal((rare.size, window, channels), dtype=np.float32).cumsum(axis=1)
        inter = np.flatnonzero(kind == 2)
        if inter.size:
            at = rng.integers(1, window - 1, inter.size)
            lag = np.clip(t[None, :] - at[:, None], 0, None)  # steps since the intervention
            step = rng.uniform(1.0, 3.0, (inter.size, 1, channels)).astype(np.float32)
            x[inter] += step * (1.0 - np.exp(-lag[:, :, None] / tau)) * (lag[:, :, None] > 0)
        x *= rng.uniform(0.5, 2.0, (m, 1, channels)).astype(np.float32)
        x += rng.uniform(-5.0, 5.0, (m, 1, channels)).astype(np.float32)
        yield x.astype(np.float32, copy=False), np.asarray(REGIMES)[kind]
