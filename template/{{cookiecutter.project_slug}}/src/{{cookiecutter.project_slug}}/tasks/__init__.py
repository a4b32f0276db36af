"""The task the contract declares (binary, multiclass or regression), behind one interface
(base.py): every render carries all three, so adopting a dataset of another task needs no
re-render. A leaf below training, registry, serving and monitoring: it imports none of them."""

from __future__ import annotations

from ..data.contract import CONTRACT
from .base import FloatArray, Judged, Metric, Task


def task_named(name: str) -> Task:
    """The Task of `name` (each module is imported when used: a task reads its contract's
    classes on import)."""
    if name == "binary":
        from .binary import Binary

        return Binary()
    if name == "multiclass":
        from .multiclass import Multiclass

        return Multiclass()
    from .regression import Regression

    return Regression()


TASK = task_named(CONTRACT.task)

__all__ = ["TASK", "FloatArray", "Judged", "Metric", "Task", "task_named"]
