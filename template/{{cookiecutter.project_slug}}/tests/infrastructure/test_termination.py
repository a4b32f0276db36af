"""SIGTERM stops a step wherever it lands, but never inside a call to the tracker's store.
(A run it leaves FAILED, through the CLI, is test_mlflow_runs.py's.)"""

from __future__ import annotations

import time
import weakref

import pytest

from {{ cookiecutter.project_slug }}.termination import EXIT_CODE, store_call

from ..conftest import terminate

pytestmark = pytest.mark.infrastructure

REDELIVERY_TIMEOUT = 10  # seconds: far beyond the redelivery delay, for a loaded machine


class Collected:
    """An object whose collection runs a weakref callback."""


def test_an_exit_python_discards_is_delivered_again(sigterm_announced: list[str]) -> None:
    """The signal can land in a weakref callback (in CI: SQLAlchemy's, while MLflow read its
    store), where Python discards the exit it raises; the step then ran to its end and exited
    0. The signal is delivered again, and the step exits 143 all the same."""
    with pytest.raises(SystemExit) as exited:
        _signalled_in_a_weakref_callback()
    assert exited.value.code == EXIT_CODE
    assert sigterm_announced == ["terminated"]  # said once, though delivered twice


def test_a_store_call_completes_before_the_exit(sigterm_announced: list[str]) -> None:
    """Interrupted inside a transaction, MLflow's sqlite client kept its lock, and marking
    the run FAILED then failed on it (a run RUNNING forever): the call ends first."""
    completed: list[str] = []
    with pytest.raises(SystemExit) as exited:
        _signalled_in_a_store_call(completed)
    assert completed == ["the store call"]
    assert exited.value.code == EXIT_CODE
    assert sigterm_announced == ["terminated"]


def _signalled_in_a_weakref_callback() -> None:
    """A step that goes on, after SIGTERM landed in a weakref callback."""
    collected = Collected()
    reference = weakref.ref(collected, lambda _: terminate())
    del collected  # the callback runs here, and its exit is discarded
    assert reference() is None
    deadline = time.monotonic() + REDELIVERY_TIMEOUT
    while time.monotonic() < deadline:  # ... until the signal is back
        time.sleep(0.01)


def _signalled_in_a_store_call(completed: list[str]) -> None:
    with store_call():
        terminate()
        completed.append("the store call")
