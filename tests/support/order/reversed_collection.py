"""A pytest plugin that runs the collected tests in reverse order.

The deep tiers run a render's suite once as pytest orders it and once with
`-p reversed_collection` (this folder on PYTHONPATH, nothing written into the render), so a
test that passes only because another ran before it fails here, not in a user's project.
The folder holds this module alone: PYTHONPATH exposes nothing else to the render.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)  # after any plugin of the render's that reorders
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.reverse()
