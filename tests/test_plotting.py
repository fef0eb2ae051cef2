"""Plots are written, are PNGs, and refuse unknown formats."""

from pathlib import Path

import pytest

from tsbudget.datasets.chinchilla import load_chinchilla_runs
from tsbudget.errors import InputError
from tsbudget.fitting.fit import fit
from tsbudget.fitting.approach2 import isoflop_profiles
from tsbudget.plotting import plot_fit, plot_isoflop

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result():
    # polish from Besiroglu et al. 2024 Table 1 (the grid search is tested in test_fit.py)
    return fit(load_chinchilla_runs(), "chinchilla", drop_highest_loss=5,
               init={"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658})


def test_plot_fit_writes_png(result, tmp_path):
    path = tmp_path / "fit.png"
    fig = plot_fit(result, path)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 20_000
    assert len(fig.axes) == 4  # three panels and the colour bar
    assert [ax.get_title() for ax in fig.axes[:3]][2] == "residuals"


def test_plot_isoflop_writes_png(tmp_path):
    import polars as pl

    runs = pl.read_csv(Path(__file__).parent / "data" / "isoflops_epochai_chinchilla.csv")
    r = isoflop_profiles(runs, columns={"N": "params", "D": "tokens", "flops": "budget"})
    path = tmp_path / "iso.png"
    plot_isoflop(r, path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_unknown_format_is_refused(result, tmp_path):
    with pytest.raises(InputError, match="fit.xyz"):
        plot_fit(result, tmp_path / "fit.xyz")
