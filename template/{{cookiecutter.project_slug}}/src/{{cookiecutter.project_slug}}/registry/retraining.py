"""Whether continuous training (CT) should train at all.

* CT keeps its champion in the tracker's registry. A CI runner without a shared registry
  would compare each candidate with an empty one and promote into a store that dies with
  the runner, so CT in CI (the `CI` variable set) stops and says what to configure.
* A model is a function of its data, code and parameters (its lineage, lineage.py). When
  none of them changed since the champion was trained, retraining would only reproduce it,
  so CT says so and does nothing.
"""

from __future__ import annotations

import os
from typing import Any

from ..config import Settings
from ..tracking import Tracker, get_tracker
from . import lineage
from .champion import sync_champion
from .gate import PromotionDecision, record_decision


class NoSharedStoreError(RuntimeError):
    """CT runs in CI but the registry would live on the runner only."""


def model_params(settings: Settings) -> dict[str, Any]:
    """The settings that shape a model (recorded as its lineage's `params_md5`)."""
    return settings.model_dump(mode="json", include={"seed", "data", "train"})


def require_shared_store(tracker: Tracker) -> None:
    """In CI, raise NoSharedStoreError unless the tracker's registry is shared."""
    if os.environ.get("CI", "").lower() in ("", "0", "false"):
        return
    if tracker.shared_store() is None:
        raise NoSharedStoreError(
            "continuous training needs the model registry to outlive the CI runner, "
            f"and none is configured: {tracker.shared_store_setup()}. With a cloud "
            "answer, its bucket holds the DVC remote; the CI smoke pipeline (`make "
            "pipeline`) needs none of this."
        )


def unchanged_since_champion(settings: Settings, tracker: Tracker) -> str | None:
    """Why retraining would change nothing (the champion was trained on these very data,
    code and parameters), or None when something changed or there is no champion."""
    champion = tracker.get_champion()
    if champion is None:
        return None
    trained_on = champion.lineage
    now = lineage.describe(settings.data.raw_path, model_params(settings))
    same = all(trained_on.get(key) == now[key] for key in ("data_md5", "code_commit", "params_md5"))
    if not same or now["code_commit"] == lineage.NO_COMMIT or now["code_dirty"] == "true":
        return None
    return (
        f"nothing changed since champion v{champion.version} was trained (data "
        f"{now['data_md5'][:8]}, commit {now['code_commit'][:8]}, params "
        f"{now['params_md5'][:8]}): no retraining"
    )


def nothing_to_retrain(settings: Settings) -> str | None:
    """CT's first step: in CI, refuse a registry that dies with the runner
    (NoSharedStoreError); bring the registry's champion onto disk; say why retraining would
    change nothing, recorded as the promotion decision (None: CT trains)."""
    tracker = get_tracker(settings.tracking)
    require_shared_store(tracker)
    champion = sync_champion(settings, tracker, for_training=True)
    reason = unchanged_since_champion(settings, tracker)
    if reason is None or champion is None:
        return None
    decision = PromotionDecision(False, [reason])
    record_decision(settings.reports_dir, decision, champion_version=champion.version)
    return reason
