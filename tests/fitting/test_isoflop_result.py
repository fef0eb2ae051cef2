"""IsoflopResult files (the round trip of a real result is in test_approach2.py)."""

import pytest

from tsbudget.errors import InputError


def test_load_rejects_other_files(tmp_path):
    from tsbudget.fitting.isoflop_result import IsoflopResult

    p = tmp_path / "x.json"
    p.write_text('{"law": "chinchilla"}')
    with pytest.raises(InputError, match="does not hold an IsoFLOP result"):
        IsoflopResult.load(p)
