"""Runs pytest many times in one interpreter of a rendered project, each run in a child forked
from it (the mutation tier: one short run per planted defect).

The parent imports the third-party modules named as arguments once; a fresh interpreter
per run spent most of a short run importing them again. Each child imports the project's
own modules afresh from disk, so a file edited between two runs (a mutant applied, then
undone) is what that run tests. The parent never imports the project.

Run by the project's interpreter in the project's directory, not by the template's:
`python forked_pytest.py MODULE ...`. Each line of standard input is one run, a JSON array:
the file for its output, its timeout in seconds, then pytest's arguments; each line of
standard output is that run's exit code (negative: the signal that ended it, SIGALRM when
it ran out of time).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import warnings


def run_in_child(output: str, timeout: int, arguments: list[str]) -> int:
    """pytest with `arguments` in a forked child, its output in the file `output`."""
    child = os.fork()
    if child == 0:  # the child: never returns
        code = 3  # pytest's "internal error", if pytest itself raises
        try:
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(descriptor, 1)
            os.dup2(descriptor, 2)
            signal.alarm(timeout)
            import pytest

            code = int(pytest.main(arguments))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def main() -> None:
    for module in sys.argv[1:]:
        importlib.import_module(module)
    # fork copies only the calling thread: a lock another thread held would never be freed.
    main_thread = threading.main_thread()
    others = [thread.name for thread in threading.enumerate() if thread is not main_thread]
    if others:
        sys.exit(f"importing {sys.argv[1:]} started threads, so forking is unsafe: {others}")
    # Python still warns, counting the native thread pools numpy's OpenBLAS and pyarrow
    # start idle at import; both libraries reset their pools in a forked child themselves.
    warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)
    print("ready", flush=True)
    for line in sys.stdin:
        output, timeout, *arguments = json.loads(line)
        print(run_in_child(output, timeout, arguments), flush=True)


if __name__ == "__main__":
    main()
