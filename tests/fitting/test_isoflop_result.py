"""IsoflopResult files (the round trip of a real result is in test_approach2.py)."""

import pytest

from tsbudget.errors import InputError
from tsbudget.report import fmt


def test_load_rejects_other_files(tmp_path):
    from tsbudget.fitting.isoflop_result import IsoflopResult

    p = tmp_path / "x.json"
    p.write_text('{"law": "chinchilla"}')
    with pytest.raises(InputError, match="does not hold an IsoFLOP result"):
        IsoflopResult.load(p)


def test_the_coefficients_are_printed_and_saved_as_plain_numbers():
    import math
    from pathlib import Path

    import polars as pl

    from tsbudget.fitting.approach2 import isoflop_profiles

    data = Path(__file__).parents[1] / "data"
    r = isoflop_profiles(pl.read_csv(data / "isoflops_epochai_chinchilla.csv"),
                         columns={"N": "params", "D": "tokens", "flops": "budget", "loss": "loss"})
    assert r.G_N == pytest.approx(math.exp(r.log_G_N), rel=1e-15) and r.G_D == pytest.approx(math.exp(r.log_G_D))
    assert r.n_opt(1e21) == pytest.approx(r.G_N * 1e21 ** r.a, rel=1e-12)
    text = repr(r)
    assert f"N_opt = {fmt(r.G_N)}·C^{r.a:.4f}" in text and f"D_opt = {fmt(r.G_D)}·C^{r.b:.4f}" in text
    d = r.to_dict()
    assert d["G_N"] == r.G_N and d["log_G_N"] == r.log_G_N and d["G_D"] == r.G_D
