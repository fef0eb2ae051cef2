"""measure_redundancy: groups, regimes and effective data against the formula; bad inputs named."""

import math
import resource
import time

import numpy as np
import pytest

from tsbudget.timeseries.effective_data import MUENNIGHOFF_R_D
from tsbudget.errors import InputError
from tsbudget.timeseries import measure_redundancy

from tests.timeseries.corpora import repeated_corpus


@pytest.mark.parametrize("method", ["lsh", "exact"])
def test_exact_duplicates_give_one_plus_m_groups_and_the_formula(method):
    k, m = 300, 25
    report = measure_redundancy(repeated_corpus(k, m), method=method)
    assert report.windows == k + m
    assert report.groups == 1 + m
    assert sorted(report.group_sizes.tolist()) == [1] * m + [k]
    assert report.normal_share == pytest.approx(k / (k + m))
    # normal regime: U = 1 repeated R = k - 1 times at R* = 5; rare: m fresh windows.
    r = 5.0
    expected = 1 + r * (1 - math.exp(-(k - 1) / r)) + m
    assert report.effective == pytest.approx(expected, abs=1e-9)
    cells = measure_redundancy(repeated_corpus(k, m), method=method, unit="cells")
    assert cells.effective == pytest.approx(expected * 64 * 8, rel=1e-12)
    assert cells.raw == (k + m) * 64 * 8


@pytest.mark.parametrize("method", ["lsh", "exact"])
@pytest.mark.parametrize("k", range(2, 13))
def test_few_repeats_match_the_formula_with_k_minus_1_repetitions(k, method):
    # Muennighoff et al. 2023 eq. 5: U unique units read D times are worth
    # U(1 + R*(1 - exp(-R/R*))) with R = D/U - 1 repetitions. One window read k times is
    # U = 1 with R = k - 1 (not k). At small k an off-by-one changes D' by >= 0.2
    # (e.g. k = 2, R* = 5: 1.9063 vs 2.6484), unlike k = 300 where exp(-299/5) ~ 1e-26.
    m = 7
    for r in (5.0, 2.5):
        report = measure_redundancy(repeated_corpus(k, m, seed=k), method=method, normal_min_size=2,
                                    r_star={"normal": r})
        assert report.groups == 1 + m and sorted(report.group_sizes.tolist()) == [1] * m + [k]
        expected = 1.0 * (1.0 + r * (1.0 - math.exp(-(k - 1) / r))) + m  # rare windows: m fresh ones
        assert report.effective == pytest.approx(expected, rel=1e-12, abs=0)


def test_infinite_r_star_removes_the_discount():
    report = measure_redundancy(repeated_corpus(), r_star={"normal": math.inf, "rare": math.inf})
    assert report.effective == pytest.approx(report.windows, rel=1e-15)
    np.testing.assert_allclose(report.effective_over_epochs([1, 4, 10]), [325, 1300, 3250], rtol=1e-15)


def test_muennighoff_constant_four_epochs_and_plateau():
    # Muennighoff et al. 2023: with R_D* = 15.387756, 4 epochs are worth 3.7257 fresh epochs
    # and the value plateaus at 16.39 epochs' worth. m distinct windows, no repeats inside.
    m = 40
    report = measure_redundancy(repeated_corpus(k=0, m=m), r_star={"rare": MUENNIGHOFF_R_D})
    assert report.groups == m and report.effective == m
    assert report.effective_over_epochs(4.0) / m == pytest.approx(3.7257, abs=5e-5)
    assert report.effective_over_epochs(1e9) / m == pytest.approx(16.387756, rel=1e-9)


def test_user_labels_define_the_regimes():
    w = repeated_corpus(50, 5, shuffle=False)
    labels = np.array(["normal"] * 40 + ["intervention"] * 10 + ["rare"] * 5)
    report = measure_redundancy(w, labels=labels)
    rd = report.regime_data
    assert rd.regimes == ("intervention", "normal", "rare")
    assert rd.unique.tolist() == [1, 1, 5] and rd.available.tolist() == [10, 40, 5]
    assert report.normal_min_size is None


def test_wrong_label_count_says_one_per_step_or_window_and_how_many():
    series = np.random.default_rng(7).standard_normal((100, 2))
    # 50 labels for 100 steps used to say "labels give 5 windows but the series gives 10"
    with pytest.raises(InputError, match=r"one value per time step of the series \(100 steps\) "
                                         r"or one per window \(10 windows\); got 50 labels"):
        measure_redundancy(series, window=10, labels=["normal"] * 50)
    with pytest.raises(InputError, match=r"one value per window \(325 windows\); got 2 labels"):
        measure_redundancy(repeated_corpus(), labels=["a", "b"])
    steps = measure_redundancy(series, window=10, labels=["normal"] * 95 + ["rare"] * 5)
    assert steps.regime_of_window.tolist() == ["normal"] * 9 + ["rare"]
    per_window = measure_redundancy(series, window=10, labels=["normal"] * 10)
    assert per_window.regime_data.regimes == ("normal",)


def test_bad_inputs_are_named():
    w = repeated_corpus(10, 2)
    w[3, 5, 1] = np.nan
    with pytest.raises(InputError, match="window 3 .* step 5, channel 1"):
        measure_redundancy(w, method="exact")
    with pytest.raises(InputError, match="threshold"):
        measure_redundancy(repeated_corpus(), threshold=-1)
    with pytest.raises(InputError, match="needs a window length"):
        measure_redundancy(np.zeros((100, 3)))
    with pytest.raises(InputError, match="longer than the series"):
        measure_redundancy(np.zeros((10, 3)), window=20)
    with pytest.raises(InputError, match="labels"):
        measure_redundancy(repeated_corpus(), labels=["a", "b"])
    with pytest.raises(InputError, match="shape"):
        measure_redundancy(np.zeros((2, 3, 4, 5)))
    with pytest.raises(InputError, match="unit"):
        measure_redundancy(repeated_corpus(), unit="bytes")


@pytest.mark.slow
def test_one_million_windows_in_bounded_time_and_memory():
    # The benchmark's target (issue 6): 1e6 windows of 64 x 8 in < 30 s and < 2 GiB peak RSS.
    # Windows are streamed from the generator, so the 2 GiB input never exists at once.
    # ru_maxrss covers the whole pytest process, so this bound is conservative.
    from tsbudget.timeseries.telemetry import telemetry_windows

    chunks = (x for x, _ in telemetry_windows(1_000_000, 64, 8, chunk=16_384, seed=0))
    t = time.perf_counter()
    report = measure_redundancy(chunks)
    seconds = time.perf_counter() - t
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n1e6 windows: {seconds:.1f} s including generation, peak RSS {peak_mib:.0f} MiB\n{report}")
    assert report.windows == 1_000_000
    assert report.normal_share > 0.95
    assert peak_mib < 2048
    assert seconds < 60  # generation takes about as long as grouping; the benchmark times grouping alone
