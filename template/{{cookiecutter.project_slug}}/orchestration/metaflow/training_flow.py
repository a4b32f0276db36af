"""Metaflow flow over the project's pipeline steps (`pipeline.py`): no ML logic here.

    start -> ingest -> train -> promote -> end

`make flow` runs it locally (`python orchestration/metaflow/training_flow.py run`). Deployed
to Argo Workflows (`make flow-deploy`), @schedule retrains weekly and @trigger retrains when
monitoring_flow.py publishes the retraining event. The compute decorator is not written on
the steps, so that local runs need no cluster: `make flow-deploy` adds it to every step
with `--with kubernetes` (see README.md).
"""

from __future__ import annotations

from dataclasses import asdict

from metaflow import FlowSpec, card, current, schedule, step, trigger
from metaflow.cards import Image, Markdown, Table

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import get_settings
from {{ cookiecutter.project_slug }}.tracking import get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate

RETRAINING_EVENT = "{{ cookiecutter.project_slug }}.retraining_recommended"


@trigger(event=RETRAINING_EVENT)
@schedule(weekly=True)
class TrainingFlow(FlowSpec):
    """Continuous training: ingest, train and gate the model (params.yaml, or the file in
    CREDIT_RISK_PARAMS)."""

    @step
    def start(self) -> None:
        self.next(self.ingest)

    @step
    def ingest(self) -> None:
        """Validate the raw data against the contract; write the splits."""
        self.splits = {
            name: str(path) for name, path in asdict(pipeline.ingest(get_settings())).items()
        }
        self.next(self.train)

    @card(type="blank", id="evaluation")
    @step
    def train(self) -> None:
        """Train, evaluate and register a candidate; its figures go to the card."""
        settings = get_settings()
        metadata = train_candidate(settings, get_tracker(settings.tracking))
        self.candidate_version = metadata.version
        self.metrics = metadata.metrics
        evaluation = current.card["evaluation"]
        title = f"# {metadata.name} v{metadata.version} ({metadata.model_type})"
        evaluation.append(Markdown(title))  # type: ignore[no-untyped-call]
        evaluation.append(
            Table(
                [[name, f"{value:.4f}"] for name, value in sorted(self.metrics.items())],
                headers=["metric", "value"],
            )
        )
        for figure in sorted((settings.reports_dir / "figures").glob("*.png")):
            evaluation.append(Image(figure.read_bytes(), label=figure.stem))
        self.next(self.promote)

    @step
    def promote(self) -> None:
        """The promotion gate: promote and serve the candidate if it beats the champion."""
        settings = get_settings()
        decision = pipeline.promote(settings, get_tracker(settings.tracking))
        self.promoted = decision.promote
        self.reasons = decision.reasons
        print(decision)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    TrainingFlow()  # type: ignore[no-untyped-call]
