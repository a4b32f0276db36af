"""`make simulate SCENARIO=shadow`: a better challenger earns its promotion from live labelled
traffic, offline, in a scratch workspace (as simulate.py's loop, whose helpers it uses).

1. The first champion is trained on the known rows with a share of their labels shuffled
   (NOISY_SHARE, as recorded by a faulty upstream system: a weaker model, its gate floor
   lowered to let it serve) and promoted.
2. With params.yaml `gate.shadow` on, a candidate trained on the same rows with their
   labels fixed passes the gate and becomes the challenger, not the champion
   (reports/promotion.json says so).
3. Each day a batch of requests is served by the real API: it answers with the champion and
   scores every request with the challenger too, logging both. Labels arrive the next
   morning, and `monitor` compares both on the labelled rows of its window
   (monitoring/shadow.py): too few rows at first, then, once the challenger wins by
   `gate.shadow_margin` with its bootstrap interval above zero, it is promoted and the API
   hot-swaps it.

The timeline (one row per day: both versions' live metric on that day's labelled rows, the
verdict, the serving champion) is printed and written with a plot to reports/simulation/shadow/.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from .config import Settings
from .data import ingest
from .data.contract import MODEL_INPUTS, TARGET
from .monitoring.traffic import monitor_traffic
from .registry.gate import read_decision
from .serving import inference_log as log
from .simulate import (
    BATCH,
    FUTURE_SHARE,
    READY_TIMEOUT,
    START,
    Api,
    days_rows,
    quiet_logs,
    train_and_promote,
    workspace,
)
from .tasks import TASK

NOISY_SHARE = 0.4  # of the first champion's training rows, their labels shuffled
WINDOW_DAYS = 3.0  # the days of labelled traffic monitoring compares the two on
MIN_ROWS = 300  # labelled rows both must have scored: more than one day's traffic


@dataclass(frozen=True)
class ShadowDay:
    """One row of the shadow timeline."""

    day: int
    champion_version: str
    challenger_version: str | None
    champion_live: float | None  # the task's live metric on the day's labelled rows
    challenger_live: float | None
    verdict: str


def live(day: pd.DataFrame, value: str, label: str) -> float | None:
    """A model's live metric on the day's labelled rows (None where it did not score)."""
    if value not in day.columns or day[value].isna().any():
        return None
    labels = day[TARGET.name].to_numpy(dtype=TARGET.dtype)
    return TASK.live_quality(labels, day[value].to_numpy(float), day[label].to_numpy())


def with_noisy_labels(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """`frame` with the labels of NOISY_SHARE of its rows shuffled among them."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(frame), int(NOISY_SHARE * len(frame)), replace=False)
    labels = frame[TARGET.name].to_numpy().copy()
    labels[rows] = rng.permutation(labels[rows])
    return frame.assign(**{TARGET.name: labels})


def shadow_settings(settings: Settings, root: Path) -> Settings:
    """The loop's workspace with the shadow on and its window wide enough to gather rows."""
    ws = workspace(settings, root)
    gate = ws.gate.model_copy(update={"shadow": True, "shadow_min_rows": MIN_ROWS})
    window = ws.inference_log.model_copy(update={"window_days": WINDOW_DAYS})
    return ws.model_copy(update={"gate": gate, "inference_log": window})


def replay_shadow(
    settings: Settings, root: Path, days: int, say: Callable[[str], None]
) -> list[ShadowDay]:
    """Run the scenario (the module's docstring) and return its timeline."""
    raw = ingest.load_raw(settings.data.raw_path)
    known, future = ingest.split(raw, FUTURE_SHARE, settings.seed)
    ws = shadow_settings(settings, root)
    quiet_logs()
    weak = ws.model_copy(update={"gate": ws.gate.model_copy(update={"min_roc_auc": 0.5})})
    if not train_and_promote(weak, with_noisy_labels(known, settings.seed), say).promote:
        raise RuntimeError("the first model was not promoted")
    decision = train_and_promote(ws, known, say)
    if not decision.challenger:
        raise RuntimeError(f"the second model did not become the challenger: {decision}")
    now = [START]
    inference = log.InferenceLog(ws.inference_log, clock=lambda: now[0])
    timeline: list[ShadowDay] = []
    with Api(ws, inference) as api:
        for day in range(1, days + 1):
            now[0] = START + timedelta(days=day - 1, hours=12)
            batch = days_rows(future, day, settings.seed).reset_index(drop=True)
            champion = ""
            for first in range(0, len(batch), BATCH):
                rows = batch.iloc[first : first + BATCH][list(MODEL_INPUTS)]
                body = {"instances": rows.to_dict("records")}
                request_id = f"day{day}-{first // BATCH}"
                champion = api.call("/predict/batch", body, request_id)["model_version"]
            api.app.state.services.shadow.wait_idle()  # the challenger's scores too
            inference.flush()
            ids = [f"day{day}-{i // BATCH}" for i in range(len(batch))]
            labels = batch.assign(request_id=ids, row=[i % BATCH for i in range(len(batch))])
            log.write_labels(ws.inference_log.url, labels, f"day-{day}")
            morning = START + timedelta(days=day)
            logged = log.read_window(ws.inference_log.url, morning - timedelta(days=1), morning)
            challenger = logged.get(log.CHALLENGER_VERSION, pd.Series(dtype=object)).dropna()
            before = read_decision(ws.reports_dir)
            monitor_traffic(ws, now=morning)
            verdict = _verdict(ws, before, say) if len(challenger) else "no challenger"
            if verdict.startswith(("promote", "retire")):
                api.wait_for(str(challenger.iloc[0]) if verdict.startswith("promote") else champion)
                _wait_for_no_challenger(api)
            shadowed = str(challenger.iloc[0]) if len(challenger) else None
            ours = live(logged, log.SERVED_VALUE, log.SERVED_LABEL)
            theirs = live(logged, log.CHALLENGER_VALUE, log.CHALLENGER_LABEL)
            timeline.append(ShadowDay(day, champion, shadowed, ours, theirs, verdict))
    return timeline


def _wait_for_no_challenger(api: Api) -> None:
    """Wait until the API has dropped the challenger (its watcher saw the directory go)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while api.app.state.services.shadow.slot.served is not None:
        if time.monotonic() > deadline:
            raise TimeoutError("the API kept scoring with the challenger")
        time.sleep(0.05)


def _verdict(ws: Settings, before: dict[str, object], say: Callable[[str], None]) -> str:
    """What monitoring decided about the challenger this morning: what it recorded in
    promotion.json (`before`: the record as it was), or a no-op on too few rows."""
    record = read_decision(ws.reports_dir)
    if record == before or record.get("source") != "shadow":
        return "too few rows"
    say(f"{record['verdict']}: {'; '.join(record['reasons'])}")
    shadow = record["shadow"]
    quality = shadow["quality"]
    return (
        f"{record['verdict']} v{shadow['challenger_version']}: {quality['advantage']:+.3f} "
        f"[{quality['low']:+.3f}, {quality['high']:+.3f}] on {shadow['rows']} rows"
    )


def plot_shadow(timeline: list[ShadowDay], path: Path) -> None:
    frame = pd.DataFrame([asdict(day) for day in timeline])
    figure, axis = plt.subplots(figsize=(8, 4))
    for column, label in (("champion_live", "champion"), ("challenger_live", "challenger")):
        axis.plot(
            frame["day"], frame[column], marker="o", label=f"{label}'s live {TASK.live.label}"
        )
    changes = frame[frame["champion_version"].ne(frame["champion_version"].shift())]
    for day, version in zip(changes["day"], changes["champion_version"], strict=True):
        axis.axvline(day - 0.5, color="grey", linestyle=":")
        axis.annotate(f"v{version} serves", (day - 0.45, float(np.nanmin(frame["champion_live"]))))
    axis.set(xlabel="day", title="Shadow challenger: both versions on the same live rows")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def run_shadow_simulation(settings: Settings, days: int, console: Console) -> list[ShadowDay]:
    """Replay the scenario, then print and save its timeline under
    `reports/simulation/shadow/`."""
    output = settings.reports_dir / "simulation" / "shadow"
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="simulation-") as root:
        timeline = replay_shadow(settings, Path(root), days, console.print)
    table = Table(title="Shadow challenger on live traffic")
    metric = TASK.live.label
    for column in ("day", f"champion {metric}", f"challenger {metric}", "monitoring", "champion"):
        table.add_column(column)
    for day in timeline:
        figures = [
            "-" if value is None else f"{value:.3f}"
            for value in (day.champion_live, day.challenger_live)
        ]
        table.add_row(str(day.day), *figures, day.verdict, f"v{day.champion_version}")
    Console().print(table)
    frame = pd.DataFrame([asdict(day) for day in timeline])
    frame.to_csv(output / "timeline.csv", index=False)
    plot_shadow(timeline, output / "timeline.png")
    console.print(f"timeline and plot in {output}/")
    return timeline
