"""Metaflow flow for batch scoring: the champion scores the day's batch (params.yaml
score.input into score.output, `{date}` the run's day; `pipeline.score_batch`). Deployed
to Argo Workflows it runs daily (@schedule); run locally with `make flow-score`.
"""

from __future__ import annotations

from metaflow import FlowSpec, schedule, step

from {{ cookiecutter.project_slug }}.config import get_settings
from {{ cookiecutter.project_slug }}.pipeline import score_batch


@schedule(daily=True)
class BatchScoringFlow(FlowSpec):
    """The day's batch scored in chunks; rows that break the contract go to the rejects."""

    @step
    def start(self) -> None:
        result = score_batch(get_settings())
        self.rows, self.scored, self.rejected = result.rows, result.scored, result.rejected
        self.output, self.rejects = result.output, result.rejects
        self.model_version = result.model_version
        print(result)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    BatchScoringFlow()  # type: ignore[no-untyped-call]
