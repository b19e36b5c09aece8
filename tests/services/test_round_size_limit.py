"""A round for a model larger than one proof can soundly cover is refused when it opens.

`ProofBounds` refuses statements whose ciphertext-binding box would contain the kernel
vector (t, q mod t) (proofs/security.md §2.2); the aggregator turns that into a 422
`invalid_params` naming the reason, before any client trains or uploads.
"""

from __future__ import annotations

import pytest

from services.aggregator.service import _round_encoding
from services.common.http import ApiError
from zkflpq.bfv import DEFAULT
from zkflpq.zk import zk_params_for

SCALE, TAU = 2.0 ** 14, 5.0


def test_largest_model_opens_and_one_chunk_more_is_refused():
    k = zk_params_for(DEFAULT).max_chunks(int(SCALE * TAU))
    enc, bound = _round_encoding(DEFAULT, SCALE, TAU, k * DEFAULT.n, 2)
    assert bound == int(SCALE * TAU) and enc.num_chunks(k * DEFAULT.n) == k
    with pytest.raises(ApiError) as exc:
        _round_encoding(DEFAULT, SCALE, TAU, k * DEFAULT.n + 1, 2)
    assert exc.value.status == 422 and exc.value.reason == "invalid_params"
    assert "would not bind" in exc.value.detail
