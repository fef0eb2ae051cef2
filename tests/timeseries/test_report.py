"""The redundancy report: its group table, repr and dict."""

import numpy as np
import pytest

from tsbudget.timeseries import measure_redundancy

from tests.timeseries.corpora import repeated_corpus


def test_group_table_lists_each_group_with_size_and_regime():
    w = repeated_corpus(50, 5, shuffle=False)
    labels = np.array(["normal"] * 40 + ["intervention"] * 10 + ["rare"] * 5)
    table = measure_redundancy(w, labels=labels).group_table()
    assert table.columns == ["group", "size", "first_window", "regime", "regime_share"]
    rows = {r["first_window"]: r for r in table.iter_rows(named=True)}
    # the repeated window: 50 members, 40 labelled normal and 10 intervention
    assert rows[0]["size"] == 50 and rows[0]["regime"] == "normal" and rows[0]["regime_share"] == 0.8
    assert [rows[i]["size"] for i in range(50, 55)] == [1] * 5
    assert {rows[i]["regime"] for i in range(50, 55)} == {"rare"}
    by_size = measure_redundancy(repeated_corpus()).group_table()
    assert by_size["size"].to_list() == measure_redundancy(repeated_corpus()).to_dict(group_sizes=True)["group_sizes"]
    assert max(zip(by_size["size"], by_size["regime"])) == (300, "normal")


def test_report_repr_and_dict():
    report = measure_redundancy(repeated_corpus())
    text = repr(report)
    assert text.startswith("RedundancyReport: 325 windows") and "effective data" in text
    d = report.to_dict()
    assert d["groups"] == 26 and d["group_size_histogram"] == {1: 25, 300: 1}
    assert d["effective"] == pytest.approx(report.effective)
    assert "group_sizes" not in d and len(report.to_dict(group_sizes=True)["group_sizes"]) == 26
