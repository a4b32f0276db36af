"""What a test reports to the run's summary (printed by conftest.py): pytest's
`record_property` fixture, with the names the summary reads (`combinations`, `wall_time`,
`tree`)."""

from __future__ import annotations

from collections.abc import Callable

# The type of pytest's `record_property` fixture: record_property(name, value).
RecordProperty = Callable[[str, object], None]
