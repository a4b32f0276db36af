"""Performance before labels: the champion's live quality estimated from what it served
(confidence-based performance estimation, tasks/calibration.py; implemented here because
NannyML does not resolve with the project's pins), set beside the realized quality of the
rows whose labels arrived, and held to the same offline figure (champion.OFFLINE_QUALITY).

The estimate is sound only for calibrated probabilities, so it is acted on only while the
champion's expected calibration error, measured at training on the out-of-fold predictions
of every training row, is within
`monitor.max_calibration_error`; otherwise it is reported as unreliable. A regressor serves
a value with no confidence attached: its quality is not estimated, and the summary says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import MonitorSettings
from ..tasks import TASK
from ..tasks.calibration import CV_CALIBRATION_ERROR
from .champion import OFFLINE_QUALITY
from .summary import DriftSummary


def check_estimate(
    summary: DriftSummary,
    metrics: Mapping[str, float],
    settings: MonitorSettings,
    *,
    served: np.ndarray,
    decided: np.ndarray,
) -> DriftSummary:
    """Add the quality and cost expected from the `served` values and `decided` labels of
    the champion (whose training `metrics` say how calibrated it is), and whether the
    estimate fell beyond `monitor.max_estimated_quality_drop` below the offline figure."""
    served = np.asarray(served, dtype=float)
    update: dict[str, Any] = {"estimate_rows": len(served)}
    estimated = TASK.estimated_quality(served, decided)
    if estimated is None:
        reason = (
            f"{TASK.name}'s served value carries no probability to estimate from"
            if not TASK.served_confidence
            else f"the {len(served)} served rows are expected to hold a single class"
        )
        return summary.model_copy(
            update=update | {"estimate_note": f"{TASK.live.label} not estimated: {reason}"}
        )
    update |= {
        "quality_metric": TASK.live.label,
        "estimated_quality": estimated,
        "estimated_cost": TASK.estimated_cost(served, decided),
    }
    error, offline = metrics.get(CV_CALIBRATION_ERROR), metrics.get(OFFLINE_QUALITY)
    if error is None or error > settings.max_calibration_error:
        measured = "not measured" if error is None else f"{error:.3f}"
        update["estimate_note"] = (
            f"estimate unreliable: the champion's cross-validated calibration error is {measured} "
            f"(monitor.max_calibration_error {settings.max_calibration_error})"
        )
    elif offline is not None:
        drop = TASK.live.drop(offline, estimated)
        update |= {
            "offline_quality": offline,
            "estimated_quality_degraded": drop > settings.max_estimated_quality_drop,
        }
    return summary.model_copy(update=update)
