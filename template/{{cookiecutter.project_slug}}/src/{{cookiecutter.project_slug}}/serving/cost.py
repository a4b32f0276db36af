"""What serving a model costs, measured beside the champion in the same process.

The scorer each would serve (`load_scorer`: compiled when the pipeline compiles) answers one
applicant at a time (p50 and p99 of the wall-clock latency) and scores the held-out rows as
one batch (rows per second), the two models alternating call by call. The promotion gate
bounds their ratio (gate.max_latency_ratio), never an absolute time: each round times both
back to back in this process's CPU time, which other processes on a busy machine do not
inflate, and the ratio is the median of the rounds' ratios (the larger of one applicant's
and a batch's). `serve.instance_cost_per_hour` turns the measured throughput into a cost per
million predictions: one process on this machine, a figure to compare models by, not a bill.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..data.contract import MODEL_INPUTS
from ..registry.model_store import ServingCost
from .scorer import Columns, Scorer, frame_columns, load_scorer

ROUNDS = 200  # single-applicant calls per model, at the most
BATCH_ROUNDS = 20  # whole-batch calls per model, at the most
MIN_ROUNDS = 15  # a slow model stops early, after at least these
BUDGET_SECONDS = 3.0  # of wall time, per kind of call
APPLICANTS = 50  # distinct rows the single-applicant calls cycle through


@dataclass
class Timings:
    """One model's calls: wall time (what a caller waits) and CPU time (what the ratio uses)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def timed(self, scorer: Scorer, columns: Columns) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        scorer(columns)
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)


def interleaved(scorers: Sequence[Scorer], inputs: Sequence[Columns], rounds: int) -> list[Timings]:
    """Each scorer's timings over `rounds` rounds (fewer past BUDGET_SECONDS), every round
    calling each once on the same input, in an order that alternates between rounds."""
    timings = [Timings() for _ in scorers]
    for scorer in scorers:  # warm up: first calls pay for caches and lazy imports
        scorer(inputs[0])
    started = time.perf_counter()
    for index in range(rounds):
        order = range(len(scorers)) if index % 2 == 0 else reversed(range(len(scorers)))
        for position in order:
            timings[position].timed(scorers[position], inputs[index % len(inputs)])
        if index + 1 >= MIN_ROUNDS and time.perf_counter() - started > BUDGET_SECONDS:
            break
    return timings


def paired_ratio(candidate: Timings, champion: Timings) -> float:
    """The median over rounds of the candidate's CPU time over the champion's."""
    ratios = np.asarray(candidate.cpu) / np.maximum(np.asarray(champion.cpu), 1e-9)
    return float(np.median(ratios))


def measure_serving_cost(
    candidate: Pipeline,
    frame: pd.DataFrame,
    instance_cost_per_hour: float | None,
    champion: tuple[str, Pipeline] | None = None,
) -> ServingCost:
    """The candidate's serving cost on `frame`'s rows (held-out data), beside `champion`'s
    (its version and pipeline; None when there is none to compare with)."""
    rows = frame[list(MODEL_INPUTS)].reset_index(drop=True)
    applicants = [frame_columns(rows.iloc[[i]]) for i in range(min(APPLICANTS, len(rows)))]
    batch = [frame_columns(rows)]
    scorers = [load_scorer(candidate)[0]]
    if champion is not None:
        scorers.append(load_scorer(champion[1])[0])
    single = interleaved(scorers, applicants, ROUNDS)
    batched = interleaved(scorers, batch, BATCH_ROUNDS)

    def throughput(timings: Timings) -> float:
        return len(rows) / float(np.median(timings.wall))

    def percentile(timings: Timings, q: float) -> float:
        return float(np.percentile(timings.wall, q)) * 1000

    per_second = throughput(batched[0])
    cost = ServingCost(
        p50_ms=percentile(single[0], 50),
        p99_ms=percentile(single[0], 99),
        rows_per_second=per_second,
        cost_per_million=None
        if instance_cost_per_hour is None
        else instance_cost_per_hour / (per_second * 3600) * 1_000_000,
    )
    if champion is None:
        return cost
    return cost.model_copy(
        update={
            "champion_version": champion[0],
            "champion_p50_ms": percentile(single[1], 50),
            "champion_rows_per_second": throughput(batched[1]),
            "latency_ratio": max(paired_ratio(*single), paired_ratio(*batched)),
        }
    )
