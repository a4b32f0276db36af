"""`make simulate`: the production loop on a laptop, offline, in about a minute.

In a scratch workspace (a temporary directory: the project's data, models, tracker store
and log are left alone), the simulation

1. trains and promotes a champion on 60% of the raw data (the rest is "the future");
2. serves it with the real API (serving.app.create_app, uvicorn in a thread) and its
   inference log;
3. replays one batch of requests a day, sampled from the held-out half; from `drift_day` on
   the world changes (data/ingest.py `shift_world`, derived from the contract): numeric
   inputs grow, and an upstream system swaps the codes of each categorical input's two most
   frequent categories, so the champion's learned relation no longer holds;
4. each day, once the previous day's labels have arrived (labels come a day late), runs
   `monitor` on that day's logged traffic (monitoring/traffic.py): drift share and live quality
   (the task's: ROC AUC, accuracy or RMSE) against the cross-validated figure training printed;
5. when the inputs drift two days running (drift confirmed), makes the labelled
   traffic of those days the new data version, trains, gates and promotes; the API
   hot-swaps the new champion while it keeps serving.

It prints the timeline (one row per day, the champion version last) and writes it with a
plot to `reports/simulation/`. (With MLflow, MLFLOW_TRACKING_URI, when set, still wins over
the scratch store: unset it to keep the simulation's versions off your server.)
"""

from __future__ import annotations

import json
import logging
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import uvicorn
from rich.console import Console
from rich.table import Table

from .config import Settings
from .data import ingest
from .data.contract import CONTRACT, MODEL_INPUTS
from .monitoring.delivery import delivery_table, report_delivery
from .monitoring.traffic import monitor_traffic
from .pipeline import STEPS
from .registry.deliveries import read_note
from .registry.gate import PromotionDecision, read_decision
from .registry.model_store import ModelMetadata
from .serving import inference_log
from .serving.app import create_app
from .tasks import TASK
from .tracking import get_tracker, local_store_uri

logger = logging.getLogger(__name__)

FUTURE_SHARE = 0.4  # of the raw data, held out as the traffic to replay
ROWS_PER_DAY = 200
BATCH = 50  # rows per request
START = datetime(2025, 1, 1, tzinfo=UTC)
CONFIRMATIONS = 2  # consecutive days of drift that confirm it
READY_TIMEOUT = 30.0
LEAD_TIME = timedelta(hours=2)  # from a data version's commit to CT promoting its model


@dataclass(frozen=True)
class Day:
    """One row of the timeline."""

    day: int
    drift_share: float
    live_quality: float | None  # the task's live metric (tasks/: ROC AUC, accuracy, RMSE)
    event: str
    champion_version: str
    # The same metric expected from the served probabilities alone, before any label
    # (monitoring/estimate.py); None for a regressor, which serves no confidence.
    estimated_quality: float | None = None


def quiet_logs() -> None:
    """Keep to the simulation's own lines: the timeline says what monitoring found each day,
    so neither the API's line a request nor the alerts' and the shadow verdict's records."""
    logging.getLogger(f"{__package__}.serving").setLevel(logging.WARNING)
    for said in ("monitoring.alerts", "monitoring.shadow"):
        logging.getLogger(f"{__package__}.{said}").setLevel(logging.CRITICAL)


def days_rows(future: pd.DataFrame, day: int, seed: int) -> pd.DataFrame:
    """Day `day`'s traffic: ROWS_PER_DAY rows of `future`, drawn with the day's own seed (a
    small data set's future holds fewer rows than a day: then rows are drawn again)."""
    small = len(future) < ROWS_PER_DAY
    return future.sample(ROWS_PER_DAY, replace=small, random_state=seed + day)


def workspace(settings: Settings, root: Path) -> Settings:
    """The settings with every file the loop writes under `root`."""
    scratch = settings.under(root, tracking_uri=local_store_uri(root), raw_path=root / "raw.csv")
    return scratch.model_copy(
        update={
            "monitor": scratch.monitor.model_copy(update={"alert_webhook": None}),
            # The loop's held-out sets are a tenth of the data: too few rows per group of a
            # fairness attribute to judge demographic parity (the real gate does, on the full
            # split), so here the gate weighs quality only. `make pipeline` keeps every bound.
            "gate": settings.gate.model_copy(
                update={
                    "max_demographic_parity_difference": dict.fromkeys(
                        settings.gate.max_demographic_parity_difference, 1.0
                    )
                }
            ),
            "inference_log": scratch.inference_log.model_copy(
                update={"window_days": 1.0, "min_rows": BATCH}
            ),
        }
    )


def promoted_on_the_clock(settings: Settings, at: datetime) -> None:
    """Date the champion's promotion `at` on the simulation's clock, in its probation and in
    the ledger (its data version committed LEAD_TIME before): delivery metrics in days."""
    tracker = get_tracker(settings.tracking)
    note, champion = read_note(tracker), tracker.get_champion()
    if note.probation is None or champion is None or not note.deliveries:
        raise RuntimeError("the promotion opened no probation")
    redated = note.model_copy(
        update={
            "probation": note.probation.model_copy(update={"promoted_at": at}),
            "deliveries": [
                *note.deliveries[:-1],
                note.deliveries[-1].model_copy(update={"at": at, "committed_at": at - LEAD_TIME}),
            ],
        }
    )
    tracker.set_champion(champion, redated.dump())


def train_and_promote(
    settings: Settings, labelled: pd.DataFrame, say: Callable[[str], None]
) -> PromotionDecision:
    """Make `labelled` the data version and run the pipeline's steps on it, saying what
    training measured and what the gate decided."""
    settings.data.raw_path.parent.mkdir(parents=True, exist_ok=True)
    slices = list(CONTRACT.slices)  # added by ingest, not part of the raw data
    labelled.drop(columns=slices, errors="ignore").to_csv(settings.data.raw_path, index=False)
    results = {step.name: step.run(settings) for step in STEPS}
    trained, decision = results["train"], results["promote"]
    if not isinstance(trained, ModelMetadata) or not isinstance(decision, PromotionDecision):
        raise TypeError(f"unexpected step results: {results!r}")
    key = TASK.primary.key
    outcome = "promoted" if decision.promote else "kept the champion"
    if decision.challenger:  # gate.shadow: it passed, and is scored beside the champion
        outcome = "the challenger, shadowed beside the champion"
    say(
        f"v{trained.version} trained on {len(labelled)} rows: {TASK.primary.label} "
        f"{trained.metrics[f'cv_{key}_mean']:.3f} cross-validated, "
        f"{trained.metrics[key]:.3f} on the held-out split; {outcome}"
    )
    return decision


def first_champion(
    settings: Settings, ws: Settings, say: Callable[[str], None]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The raw data, its first 60% and the rest (the future), the first part trained and
    promoted in the workspace `ws` at START on the simulation's clock."""
    raw = ingest.load_raw(settings.data.raw_path)
    initial, future = ingest.split(raw, FUTURE_SHARE, settings.seed)
    quiet_logs()
    decision = train_and_promote(ws, initial, say)
    if not decision.promote:
        raise RuntimeError(f"the first model was not promoted: {decision}")
    promoted_on_the_clock(ws, START)
    return raw, initial, future


class Api:
    """The real API in a thread, on a free local port."""

    def __init__(self, settings: Settings, log: inference_log.InferenceLog) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.app = app = create_app(settings.serve.model_dir, log, reload_seconds=0.2)
        config = uvicorn.Config(app, port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Api:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join()

    def call(self, path: str, body: Any = None, request_id: str = "") -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-Request-ID": request_id},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def wait_for(self, version: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while self.call("/ready")["model_version"] != version:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API did not swap in v{version}")
            time.sleep(0.1)


def replay(
    settings: Settings, root: Path, days: int, drift_day: int, say: Callable[[str], None]
) -> list[Day]:
    """Run the loop (see the module's docstring) and return its timeline."""
    ws = workspace(settings, root)
    raw, _, future = first_champion(settings, ws, say)
    now = [START]
    log = inference_log.InferenceLog(ws.inference_log, clock=lambda: now[0])
    rng = np.random.default_rng(settings.seed)
    timeline: list[Day] = []
    served: dict[int, pd.DataFrame] = {}
    flagged: list[int] = []
    with Api(ws, log) as api:
        for day in range(1, days + 1):
            now[0] = START + timedelta(days=day - 1, hours=12)
            batch = days_rows(future, day, settings.seed)
            batch = ingest.shift_world(batch, rng, raw) if day >= drift_day else batch
            batch = batch.reset_index(drop=True)
            ids = []
            for first in range(0, len(batch), BATCH):
                rows = batch.iloc[first : first + BATCH]
                request_id = f"day{day}-{first // BATCH}"
                body = {"instances": rows[list(MODEL_INPUTS)].to_dict("records")}
                version = api.call("/predict/batch?compact=true", body, request_id)["model_version"]
                ids += [(request_id, row) for row in range(len(rows))]
            log.flush()
            served[day] = batch.assign(request_id=[i for i, _ in ids], row=[r for _, r in ids])
            # The next morning: yesterday's labels arrive, and monitoring runs on that day.
            inference_log.write_labels(ws.inference_log.url, served[day], f"day-{day}")
            summary = monitor_traffic(ws, now=START + timedelta(days=day))
            flagged = [*flagged, day] if summary.drift_detected else []
            event = "drift" if summary.drift_detected else "ok"
            if summary.quality_degraded:
                event += ", quality drop"
            if summary.estimated_quality_degraded:
                event += ", estimated quality drop"
            if len(flagged) >= CONFIRMATIONS:
                labelled = pd.concat([served[d] for d in flagged[-CONFIRMATIONS:]])
                decision = train_and_promote(ws, labelled.drop(columns=["request_id", "row"]), say)
                if decision.promote:
                    promoted = read_decision(ws.reports_dir)
                    api.wait_for(promoted["candidate_version"])
                    promoted_on_the_clock(ws, START + timedelta(days=day) + LEAD_TIME)
                    event = f"drift confirmed: v{promoted['candidate_version']} promoted"
                    flagged = []
                else:
                    event = f"drift confirmed: candidate rejected ({decision.reasons[0]})"
            timeline.append(
                Day(day, summary.drift_share, summary.live_quality, event, version,
                    summary.estimated_quality)
            )  # fmt: skip
    return timeline


def plot(timeline: list[Day], path: Path) -> None:
    frame = pd.DataFrame([asdict(day) for day in timeline])
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.plot(frame["day"], frame["drift_share"], marker="o", label="drift share")
    # A score in [0, 1] shares the axis; an error in the target's unit gets its own.
    live_axis = axis if TASK.live.higher_is_better else axis.twinx()
    live_axis.plot(frame["day"], frame["live_quality"], marker="s", color="tab:orange",
                   label=f"live {TASK.live.label}")  # fmt: skip
    if frame["estimated_quality"].notna().any():
        live_axis.plot(frame["day"], frame["estimated_quality"], marker="^", linestyle="--",
                       color="tab:green", label=f"estimated {TASK.live.label}")  # fmt: skip
    changes = frame[frame["champion_version"].ne(frame["champion_version"].shift())]
    for day, version in zip(changes["day"], changes["champion_version"], strict=True):
        axis.axvline(day - 0.5, color="grey", linestyle=":")
        axis.annotate(f"v{version} serves", (day - 0.45, 0.02))
    axis.set(xlabel="day", ylim=(0, 1), title="Simulated production loop")
    axis.legend(loc="center right")
    if live_axis is not axis:
        live_axis.set(ylabel=f"live {TASK.live.label}")
        live_axis.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def run_simulation(settings: Settings, days: int, drift_day: int, console: Console) -> list[Day]:
    """Replay, then print and save the timeline under `reports/simulation/`."""
    output = settings.reports_dir / "simulation"
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="simulation-") as root:
        timeline = replay(settings, Path(root), days, drift_day, console.print)
        end = START + timedelta(days=days)
        ws = workspace(settings, Path(root))
        delivery = report_delivery(ws, get_tracker(ws.tracking), end, output)
    table = Table(title=f"Simulated production loop (drift from day {drift_day})")
    for column in ("day", "drift share", f"live {TASK.live.label}", "monitoring", "champion"):
        table.add_column(column)
    table.add_column("estimated (no labels)")
    for day in timeline:
        auc = "-" if day.live_quality is None else f"{day.live_quality:.3f}"
        estimated = "-" if day.estimated_quality is None else f"{day.estimated_quality:.3f}"
        table.add_row(
            str(day.day), f"{day.drift_share:.2f}", auc, day.event, f"v{day.champion_version}",
            estimated,
        )  # fmt: skip
    Console().print(table)
    Console().print(delivery_table(delivery))
    pd.DataFrame([asdict(day) for day in timeline]).to_csv(output / "timeline.csv", index=False)
    plot(timeline, output / "timeline.png")
    console.print(f"timeline, plot and delivery metrics in {output}/")
    return timeline
