"""SIGTERM (a cancelled CI job, an orchestrator stopping a task, `docker stop`) unwinds the
running step like an error, so that a tracker's run in progress ends as failed instead of
being left running forever.

Python runs a signal handler wherever the main thread is, between any two instructions.
Two places cannot take an exception there, and this module keeps the exit out of them:
- a call to a tracker's store (`store_call`): interrupted inside a database transaction,
  the client keeps its lock (sqlite's until the process ends), and marking the run failed
  then waits on that lock and fails;
- a weakref callback or a `__del__` (SQLAlchemy's, while MLflow queries its store): Python
  discards what they raise, so the step would run to its end and exit 0.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

EXIT_CODE = 128 + signal.SIGTERM  # 143: what a shell reports for a terminated process
# Seconds before a discarded exit is delivered again: the finalizer that discarded it has
# long returned by then (they run in microseconds), and a step's unwinding barely waits.
REDELIVERY_DELAY = 0.01


@dataclass
class _Termination:
    """Signal handlers are the process's: so is this state."""

    announce: Callable[[], None] = lambda: None  # says, once, why the step stops
    signalled: bool = False
    store_calls: int = 0  # calls to a store in progress (nested)
    exit_pending: bool = False  # signalled during one: exit once it returns
    other_unraisable_hook: Callable[[sys.UnraisableHookArgs], object] = sys.unraisablehook


_TERMINATION = _Termination()


def exit_on_sigterm(announce: Callable[[], None]) -> None:
    """From the main thread, the one where Python runs signal handlers."""
    _TERMINATION.announce = announce
    _TERMINATION.signalled = _TERMINATION.exit_pending = False
    _TERMINATION.other_unraisable_hook = sys.unraisablehook
    signal.signal(signal.SIGTERM, _exit)
    sys.unraisablehook = _redeliver_discarded_exit


@contextmanager
def store_call() -> Iterator[None]:
    """A call to a tracker's store completes before SIGTERM's exit, which follows at once."""
    _TERMINATION.store_calls += 1
    try:
        yield
    finally:
        _TERMINATION.store_calls -= 1
    if _TERMINATION.exit_pending and not _TERMINATION.store_calls:
        _TERMINATION.exit_pending = False
        sys.exit(EXIT_CODE)


def _exit(_signum: int, _: FrameType | None) -> None:
    if not _TERMINATION.signalled:
        _TERMINATION.signalled = True
        _TERMINATION.announce()
    if _TERMINATION.store_calls:
        _TERMINATION.exit_pending = True
        return
    sys.exit(EXIT_CODE)


def _redeliver_discarded_exit(unraisable: sys.UnraisableHookArgs) -> None:
    """The exit a finalizer discarded: the signal is sent again, to land once the finalizer
    has returned. Anything else goes where it went before."""
    if _TERMINATION.signalled and isinstance(unraisable.exc_value, SystemExit):
        if sys.is_finalizing():  # the process is ending already (and starts no thread)
            return
        redelivery = threading.Timer(REDELIVERY_DELAY, os.kill, (os.getpid(), signal.SIGTERM))
        redelivery.daemon = True  # never keeps the process alive
        redelivery.start()
        return
    _TERMINATION.other_unraisable_hook(unraisable)
