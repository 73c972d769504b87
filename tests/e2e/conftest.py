"""End-to-end tests: real broker, real worker processes, datasets with known truth.
Their fixtures (``worker``, ``results``) live in tests/conftest.py."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)
