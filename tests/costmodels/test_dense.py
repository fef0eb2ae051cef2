"""Dense cost model: 6N / 2N per position, Kaplan et al. 2020 Table 1 attention term, field checks."""

import numpy as np
import pytest

from costmodels.dense import Dense, kaplan_non_embedding_params
from tsbudget.errors import InputError
from tsbudget.testing import check_costmodel


def test_six_n_and_two_n_per_position():
    n = np.array([1e6, 4e8, 7e10])
    np.testing.assert_array_equal(Dense().train_flops_per_position(n), 6 * n)
    np.testing.assert_array_equal(Dense().inference_flops_per_position(n), 2 * n)
    np.testing.assert_array_equal(Dense().total_params(n), n)
    np.testing.assert_array_equal(Dense().active_params(n), n)


def test_broadcasts_n_against_positions():
    n = np.array([[1e7], [1e9]])
    positions = np.array([1e9, 2e10, 3e11])
    out = Dense().train_flops(n, positions)
    assert out.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert out[i, j] == 6.0 * n[i, 0] * positions[j]


def test_attention_term_is_kaplan_table1():
    # Kaplan et al. 2020 Table 1: C_forward = 2N + 2 n_layer n_ctx d_attn, training = 3 x forward.
    cm = Dense(n_layer=24, n_ctx=1024, d_model=2048)
    n = 12 * 24 * 2048**2
    attn = 2 * 24 * 1024 * 2048
    assert cm.inference_flops_per_position(n) == 2 * n + attn
    assert cm.train_flops_per_position(n) == 3 * (2 * n + attn)
    assert cm.train_flops_per_position(n) > Dense().train_flops_per_position(n)


def test_attention_share_grows_with_context():
    n = 1e9
    short = Dense(n_layer=24, n_ctx=512, d_model=2048).train_flops_per_position(n)
    long = Dense(n_layer=24, n_ctx=8192, d_model=2048).train_flops_per_position(n)
    assert long > short > 6 * n


def test_kaplan_non_embedding_params():
    assert kaplan_non_embedding_params(2, 10) == 12 * 2 * 100
    with pytest.raises(InputError, match="d_model"):
        kaplan_non_embedding_params(2, 0)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"n_layer": 0, "n_ctx": 8, "d_model": 8}, "n_layer"),
        ({"n_layer": 2, "n_ctx": 8.5, "d_model": 8}, "n_ctx"),
        ({"n_layer": 2, "n_ctx": 8}, "d_model"),
        ({"n_ctx": 8}, "n_layer"),
        ({"n_layer": 2, "n_ctx": 8, "d_model": True}, "d_model"),
    ],
)
def test_bad_fields_name_the_field(kwargs, field):
    with pytest.raises(InputError, match=field):
        Dense(**kwargs)


def test_bad_inputs_name_them():
    with pytest.raises(InputError, match="n must be"):
        Dense().train_flops(-1.0, 1e9)
    with pytest.raises(InputError, match="n must be"):
        Dense().train_flops(np.nan, 1e9)
    with pytest.raises(InputError, match="positions"):
        Dense().train_flops(1e9, -5.0)
    with pytest.raises(InputError, match="experts"):
        Dense().train_flops(1e9, 1e9, experts=4)


def test_conformance():
    check_costmodel(Dense())
    check_costmodel(Dense(n_layer=12, n_ctx=2048, d_model=768))


def test_kv_cache_and_touched_weights():
    # Pope et al. 2022 §2: 2·n_layer·d_model cached values per position (d_attn = d_model)
    cm = Dense(n_layer=32, n_ctx=2048, d_model=4096)
    assert float(cm.cache_bytes_per_position(7e9, 2.0)) == 2 * 32 * 4096 * 2
    assert float(Dense().cache_bytes_per_position(7e9, 2.0)) == 0.0  # no shape: not counted
    np.testing.assert_array_equal(Dense().weight_params_touched(7e9, [1, 64, 4096]), [7e9] * 3)
