"""Fixtures for the service tests (helpers live in svc_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from svc_helpers import Clients, start_deployment


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    d = start_deployment(tmp_path_factory.mktemp("deploy"))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def clients(dep: Any) -> Clients:
    return Clients(dep)
