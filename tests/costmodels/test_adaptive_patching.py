"""Adaptive patching (BLT) cost model: exact dense limit, latent/local split, monotone in compression."""

import numpy as np
import pytest

from costmodels.adaptive_patching import AdaptivePatching
from costmodels.dense import Dense
from tsbudget.errors import InputError
from tsbudget.testing import check_costmodel

N = np.array([1e6, 4e8, 8e9])


def test_compression_one_without_local_models_is_exactly_dense():
    cm = AdaptivePatching()
    np.testing.assert_array_equal(cm.train_flops_per_position(N, compression=1), Dense().train_flops_per_position(N))
    np.testing.assert_array_equal(
        cm.inference_flops_per_position(N, compression=1), Dense().inference_flops_per_position(N)
    )
    np.testing.assert_array_equal(cm.total_params(N, compression=1), N)


def test_latent_per_patch_local_per_position():
    # BLT accounting: 8B latent over patches of 8 positions, 100M encoder + 300M decoder on every position.
    cm = AdaptivePatching(encoder_params=1e8, decoder_params=3e8, embedding_params=5e8)
    assert cm.train_flops_per_position(8e9, compression=8) == pytest.approx(6 * (1e9 + 4e8), rel=1e-15)
    assert cm.inference_flops_per_position(8e9, compression=8) == pytest.approx(2 * (1e9 + 4e8), rel=1e-15)
    assert cm.total_params(8e9) == 8e9 + 4e8 + 5e8  # hash embeddings are held but cost no FLOPs
    assert cm.active_params(8e9) == 8e9 + 4e8


def test_flops_fall_as_compression_rises():
    cm = AdaptivePatching(encoder_params=5e7, decoder_params=5e7)
    p = np.array([1.0, 2.0, 4.5, 8.0, 16.0, 64.0])
    flops = cm.train_flops_per_position(1e9, compression=p)
    assert np.all(np.diff(flops) < 0)
    assert flops[-1] > 6 * 1e8  # never below the local models' own cost


def test_broadcasts_over_n_positions_and_compression():
    cm = AdaptivePatching(encoder_params=1e7)
    n = np.array([[1e8], [1e9]])
    p = np.array([1.5, 3.0, 6.0])
    positions = np.array([1e9, 1e10, 1e11])
    out = cm.inference_flops(n, positions, compression=p)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, positions * (2 * n / p + 2e7), rtol=1e-15)


@pytest.mark.parametrize("value", [0.5, 65.0, np.nan, [2.0, 100.0]])
def test_bad_compression_names_it(value):
    with pytest.raises(InputError, match="compression"):
        AdaptivePatching().train_flops(1e9, 1e9, compression=value)


@pytest.mark.parametrize("field", ["encoder_params", "decoder_params", "embedding_params"])
def test_bad_fields_name_the_field(field):
    with pytest.raises(InputError, match=field):
        AdaptivePatching(**{field: -1.0})
    with pytest.raises(InputError, match=field):
        AdaptivePatching(**{field: float("inf")})


def test_conformance():
    check_costmodel(AdaptivePatching())
    check_costmodel(AdaptivePatching(encoder_params=2e7, decoder_params=4e7, embedding_params=1e8))


def test_latent_weights_read_when_some_sequence_closes_a_patch():
    cm = AdaptivePatching(encoder_params=1e7, decoder_params=2e7, embedding_params=5e8)
    t = cm.weight_params_touched(1e9, np.array([1.0, 3.0]), compression=4.0)
    assert t[0] == pytest.approx(1e9 / 4 + 3e7, rel=1e-12)  # = serving FLOPs / 2
    assert t[0] == pytest.approx(float(cm.inference_flops_per_position(1e9, compression=4.0)) / 2, rel=1e-12)
    assert t[1] == pytest.approx(1e9 * (1 - 0.75**3) + 3e7, rel=1e-12)


def test_latent_cache_per_patch():
    cm = AdaptivePatching(cache_values=4096.0)
    assert float(cm.cache_bytes_per_position(1e9, 2.0, compression=4.0)) == 4096 / 4 * 2
    assert float(AdaptivePatching().cache_bytes_per_position(1e9, 2.0)) == 0.0
