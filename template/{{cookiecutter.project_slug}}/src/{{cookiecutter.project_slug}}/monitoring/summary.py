"""What a monitoring run found: one summary, written as drift_summary.json by the entry
points (batch.py, traffic.py) and sent to the alert webhook."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, computed_field

from ..tasks import TASK

DRIFT_EXIT_CODE = 3  # `monitor` exits with it when retraining is recommended
SUMMARY_FILE = "drift_summary.json"  # under monitor.reports_dir


class ColumnDrift(BaseModel):
    """The drift test of one column."""

    method: str
    score: float = Field(description="The test's p-value: small means the column has drifted.")
    drifted: bool


class SkewCheck(BaseModel):
    """Training/serving skew: logged inputs re-scored offline with the champion's pipeline,
    compared with the probabilities the API served for them (see traffic.py)."""

    rows: int = Field(description="Logged predictions of the champion that were re-scored.")
    skewed_rows: int = Field(description="Rows whose served probability differs.")
    max_gap: float = Field(description="Largest absolute difference of probabilities.")
    tolerance: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def detected(self) -> bool:
        return self.skewed_rows > 0


class ProbationCheck(BaseModel):
    """A champion on probation after its promotion, judged against monitor.rollback's
    bounds (probation.py); `outcome` says what was done."""

    version: str
    previous: str | None
    days: float = Field(description="Days since its promotion.")
    breaches: list[str] = Field(description="The bounds it broke (none: it holds).")
    rolled_back: bool
    outcome: str


class DriftSummary(BaseModel):
    """What a monitoring run found; written as drift_summary.json and sent to the webhook."""

    generated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    drift_detected: bool
    drift_share: float = Field(description="Share of the model inputs that drifted.")
    drift_share_threshold: float
    column_drift_threshold: float
    drifted_columns: list[str]
    columns: dict[str, ColumnDrift]
    prediction_drift: ColumnDrift | None = Field(
        default=None,
        description="Drift of the served value (tasks/: the probability, or the predicted "
        "value; with a model only).",
    )
    reference_rows: int
    current_rows: int
    model_version: str | None = None
    report: str = Field(description="Evidently's HTML report.")
    quality_metric: str | None = Field(
        default=None, description="The task's live quality metric (ROC AUC, accuracy, RMSE)."
    )
    live_quality: float | None = Field(
        default=None, description="The champion's quality on the batch, when it has labels."
    )
    offline_quality: float | None = Field(
        default=None, description="The champion's cross-validated quality at training."
    )
    quality_degraded: bool = False
    model_age_days: float | None = None
    model_stale: bool = False
    source: str = Field(default="", description="What was checked: a file or a log window.")
    skew: SkewCheck | None = Field(
        default=None, description="Training/serving skew (on logged traffic only)."
    )
    probation: ProbationCheck | None = Field(
        default=None, description="The champion's probation after its promotion, if on it."
    )
    estimated_quality: float | None = Field(
        default=None,
        description="The live quality expected from the served probabilities alone, no label "
        "needed (CBPE, monitoring/estimate.py), on every row the champion served.",
    )
    estimated_cost: float | None = Field(
        default=None, description="The decisions' expected cost per row, from the same."
    )
    estimate_rows: int = Field(default=0, description="Served rows the estimate is made on.")
    estimate_note: str | None = Field(
        default=None,
        description="Why no estimate is acted on: the task has none (a regressor) or the "
        "champion's probabilities are not calibrated enough to trust one.",
    )
    estimated_quality_degraded: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def retraining_recommended(self) -> bool:
        return (
            self.drift_detected
            or self.quality_degraded
            or self.model_stale
            or self.estimated_quality_degraded
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reasons(self) -> list[str]:
        reasons = []
        went = "fell" if TASK.live.higher_is_better else "rose"
        if self.drift_detected:
            reasons.append(f"{round(self.drift_share * 100)}% of the inputs drifted")
        if self.quality_degraded:
            reasons.append(
                f"{self.quality_metric} {went} from {self.offline_quality:.3f} to "
                f"{self.live_quality:.3f}"
            )
        if self.model_stale:
            reasons.append(f"the champion is {self.model_age_days:.0f} days old")
        if self.probation is not None and self.probation.breaches:
            reasons.append(f"{self.probation.outcome} ({'; '.join(self.probation.breaches)})")
        if self.estimated_quality_degraded:
            reasons.append(
                f"estimated {self.quality_metric} {went} from {self.offline_quality:.3f} to "
                f"{self.estimated_quality:.3f} (from the served probabilities, before labels)"
            )
        return reasons

    def verdict(self) -> str:
        """The reasons (or that all holds), then quality estimated and realized side by
        side: what `monitor` prints."""
        verdict = "; ".join(self.reasons) or "no drift, quality holds, model is fresh"
        metric = TASK.live.label
        if self.estimated_quality is not None:
            verdict += (
                f"; {metric} estimated {self.estimated_quality:.3f} ({self.estimate_rows} rows)"
            )
        if self.live_quality is not None:
            verdict += f", realized {self.live_quality:.3f} (labelled rows)"
        if self.offline_quality is not None:
            verdict += f", offline {self.offline_quality:.3f}"
        return verdict + (f"; {self.estimate_note}" if self.estimate_note else "")
