"""An RPC declared NotBuilt answers the kit's typed UNIMPLEMENTED and is recognised as not built."""

from __future__ import annotations

import grpc
import pytest

from services.kit.errors import Unimplemented
from services.kit.grpc import status, unbuilt


async def test_a_not_built_rpc_raises_unimplemented_naming_the_feature() -> None:
    placeholder = unbuilt.NotBuilt("privacy export")
    with pytest.raises(Unimplemented) as raised:
        await placeholder(object(), object())
    assert raised.value.metadata == {"feature": "privacy export"}
    assert status.code_for(raised.value) is grpc.StatusCode.UNIMPLEMENTED
    assert "privacy export is not built yet" in raised.value.message


def test_only_placeholders_count_as_not_built() -> None:
    assert unbuilt.is_not_built(unbuilt.NotBuilt("x"))
    assert not unbuilt.is_not_built(test_only_placeholders_count_as_not_built)
