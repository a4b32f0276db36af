"""`make simulate SCENARIO=rollback`: a bad promotion caught on live traffic and undone.

In a scratch workspace (simulate.py's), the simulation

1. trains and promotes a champion on 60% of the raw data, and serves it with the real API;
2. replays one batch of undrifted requests a day; labels arrive the next morning and
   `monitor` runs on that day's logged traffic (monitoring/traffic.py), the API's error rate
   read from its own /metrics (`monitor.rollback.metrics_url`);
3. on `plant_day`, a new data version arrives whose labels an upstream change shifted
   (`shift_labels`: a classifier's two most frequent classes swapped, a regressor's target
   mirrored about its median). Trained on it, the candidate passes the offline gate (its
   held-out split carries the same shifted labels, on which the champion looks worse) and
   is promoted: the API hot-swaps it and it goes on probation;
4. the next morning its live quality, on true labels, breaks `monitor.rollback`: monitoring
   restores the previous champion (the API hot-swaps back) within that one cycle, and the
   following days show live quality recovered.

It prints the timeline (one row per day, the version that served it last) and writes it
with a plot to `reports/simulation/rollback/`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from .config import Settings
from .data.contract import MODEL_INPUTS, TARGET
from .monitoring.delivery import delivery_table, report_delivery
from .monitoring.traffic import monitor_traffic
from .registry.gate import read_decision
from .serving import inference_log
from .simulate import (
    BATCH,
    START,
    Api,
    Day,
    days_rows,
    first_champion,
    plot,
    promoted_on_the_clock,
    train_and_promote,
)
from .simulate import workspace as scratch_workspace
from .tasks import TASK
from .tracking import get_tracker

PLANT_DAY = 3  # the day the model trained on shifted labels is promoted, before its traffic


def shift_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its labels shifted as an upstream change would: a classifier's two most
    frequent classes swapped, a regressor's target mirrored about its median."""
    target = frame[TARGET.name]
    if TASK.kind == "classifier":
        first, second = target.value_counts().index[:2]
        shifted = np.where(target == first, second, np.where(target == second, first, target))
    else:
        shifted = 2 * target.median() - target.to_numpy()
    return frame.assign(**{TARGET.name: pd.Series(shifted, index=frame.index).astype(target.dtype)})


def replay_rollback(
    settings: Settings, root: Path, days: int, plant_day: int, say: Callable[[str], None]
) -> list[Day]:
    """Run the scenario (see the module's docstring) and return its timeline."""
    ws = scratch_workspace(settings, root)
    _, initial, future = first_champion(settings, ws, say)
    now = [START]
    log = inference_log.InferenceLog(ws.inference_log, clock=lambda: now[0])
    timeline: list[Day] = []
    with Api(ws, log) as api:
        bounds = ws.monitor.rollback.model_copy(
            update={"metrics_url": f"http://127.0.0.1:{api.port}/metrics"}
        )
        ws = ws.model_copy(update={"monitor": ws.monitor.model_copy(update={"rollback": bounds})})
        for day in range(1, days + 1):
            now[0] = START + timedelta(days=day - 1, hours=12)
            event = ""
            if day == plant_day:
                planted = train_and_promote(ws, shift_labels(initial), say)
                if not planted.promote:
                    raise RuntimeError(f"the planted model was not promoted: {planted}")
                promoted = str(read_decision(ws.reports_dir)["candidate_version"])
                api.wait_for(promoted)
                promoted_on_the_clock(ws, now[0])
                event = f"v{promoted} promoted (shifted labels); "
            batch = days_rows(future, day, settings.seed).reset_index(drop=True)
            version = ""
            for first in range(0, len(batch), BATCH):
                rows = batch.iloc[first : first + BATCH]
                body = {"instances": rows[list(MODEL_INPUTS)].to_dict("records")}
                request_id = f"day{day}-{first // BATCH}"
                version = api.call("/predict/batch?compact=true", body, request_id)["model_version"]
            log.flush()
            labels = batch.assign(
                request_id=[f"day{day}-{i // BATCH}" for i in range(len(batch))],
                row=[i % BATCH for i in range(len(batch))],
            )
            inference_log.write_labels(ws.inference_log.url, labels, f"day-{day}")
            summary = monitor_traffic(ws, now=START + timedelta(days=day))
            check = summary.probation
            if check is not None and check.rolled_back:
                api.wait_for(str(check.previous))
                event += f"probation breach: {check.outcome}"
            elif check is not None:
                event += f"on probation, day {check.days:.0f}: within bounds"
            else:
                event += "quality drop" if summary.quality_degraded else "ok"
            timeline.append(Day(day, summary.drift_share, summary.live_quality, event, version))
    return timeline


def run_rollback_simulation(settings: Settings, days: int, console: Console) -> list[Day]:
    """Replay, then print and save the timeline under `reports/simulation/rollback/`."""
    output = settings.reports_dir / "simulation" / "rollback"
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="simulation-") as root:
        timeline = replay_rollback(settings, Path(root), days, PLANT_DAY, console.print)
        end = START + timedelta(days=days)
        ws = scratch_workspace(settings, Path(root))
        delivery = report_delivery(ws, get_tracker(ws.tracking), end, output)
    table = Table(title=f"Simulated rollback (a model trained on shifted labels, day {PLANT_DAY})")
    for column in ("day", f"live {TASK.live.label}", "monitoring", "served by"):
        table.add_column(column)
    for day in timeline:
        live = "-" if day.live_quality is None else f"{day.live_quality:.3f}"
        table.add_row(str(day.day), live, day.event, f"v{day.champion_version}")
    Console().print(table)
    Console().print(delivery_table(delivery))
    pd.DataFrame([asdict(day) for day in timeline]).to_csv(output / "timeline.csv", index=False)
    plot(timeline, output / "timeline.png")
    console.print(f"timeline, plot and delivery metrics in {output}/")
    return timeline
