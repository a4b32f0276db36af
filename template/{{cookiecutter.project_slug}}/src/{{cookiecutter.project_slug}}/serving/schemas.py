"""The API's request and response models, derived from the data contract and its task
(binary: the decision, its label and the positive class's probability; multiclass: the
decision, its label and every class's probability; regression: the predicted value): FastAPI
documents them in the OpenAPI schema, and a batch is validated in one pass of pydantic-core
over the raw JSON (no per-row objects: a batch becomes columns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from ..data.contract import (
    CONTRACT,
    EXAMPLE,
    NEGATIVE_CLASS,
    POSITIVE_CLASS,
    ROWS,
    TARGET,
    Decision,
    Row,
)
from ..tasks import TASK

MAX_BATCH = 1000


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    model_name: str
    model_version: str
    model_type: str
    trained_at: str
    scorer: Literal["compiled", "sklearn"] = Field(
        description="compiled: the numpy form of the pipeline (scorer.py); sklearn: the "
        "pipeline itself (it could not be compiled)."
    )
    lineage: dict[str, str] = Field(description="The data and code the model was trained on.")
    refused: str | None = Field(
        default=None,
        description="Why the newer model exported since is not served (e.g. its signature "
        "fails): this one keeps serving.",
    )


class NotReady(BaseModel):
    status: Literal["not ready"] = "not ready"
    detail: str
    model_dir: str


_MEANINGS = "; ".join(f"{name}: {CONTRACT.class_meanings[name]}" for name in CONTRACT.class_names)


class BinaryPrediction(BaseModel):
    """One row's score."""

    decision: Decision = Field(description=_MEANINGS)
    label: int = Field(
        ge=0,
        le=1,
        description=f"The decision as {TARGET.name}: 1 = {POSITIVE_CLASS}, 0 = "
        f"{NEGATIVE_CLASS} ({TARGET.description})",
    )
    probability: float = Field(ge=0, le=1, description=f"Probability of {POSITIVE_CLASS}")


class MulticlassPrediction(BaseModel):
    """One row's score."""

    decision: Decision = Field(description=f"The class of least expected cost. {_MEANINGS}")
    label: int = Field(ge=0, description=f"The decision as {TARGET.name} ({TARGET.description})")
    probabilities: dict[str, float] = Field(description="The probability of each class.")


class RegressionPrediction(BaseModel):
    """One row's prediction."""

    prediction: float = Field(description=f"The predicted {TARGET.name} ({TARGET.description})")


class DecisionPolicy(BaseModel):
    """The model behind the predictions and its decision threshold (binary), which ships
    inside the model version that chose it."""

    model_name: str
    model_version: str
    threshold: float | None = Field(
        description=f"{POSITIVE_CLASS} is decided from this probability on (binary; null for "
        "a task without a threshold)"
    )
    threshold_version: str = Field(description="The model version whose training chose it")


class BatchRequest(BaseModel):
    """Up to MAX_BATCH rows (the request body of /predict/batch)."""

    model_config = ConfigDict(extra="forbid")
    instances: list[Row] = Field(
        description=f"The {ROWS} to score.",
        min_length=1,
        max_length=MAX_BATCH,
        json_schema_extra={"examples": [[EXAMPLE, EXAMPLE]]},
    )


if TYPE_CHECKING:  # static stand-ins: type checkers cannot follow the task's choice
    Prediction = BinaryPrediction

    class PredictionResponse(BinaryPrediction, DecisionPolicy):
        pass

    class CompactBatchResponse(DecisionPolicy):
        pass

else:
    Prediction = {
        "binary": BinaryPrediction,
        "multiclass": MulticlassPrediction,
        "regression": RegressionPrediction,
    }[TASK.name]
    PredictionResponse = create_model("PredictionResponse", __base__=(Prediction, DecisionPolicy))
    # The batch's predictions as columns: one list per field of Prediction, in request order
    # (smaller and faster to produce and parse than a list of objects).
    CompactBatchResponse = create_model(
        "CompactBatchResponse",
        __base__=DecisionPolicy,
        __doc__="The batch's predictions as columns: one list per field of the prediction, "
        "in request order.",
        **{name: (list[field.annotation], ...) for name, field in Prediction.model_fields.items()},
    )


class BatchResponse(DecisionPolicy):
    predictions: list[Prediction]


class ErrorLocation(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class InvalidRequest(BaseModel):
    """The request breaks the data contract (FastAPI's shape of validation errors)."""

    detail: list[ErrorLocation]


class MalformedRequest(BaseModel):
    """The body is not JSON."""

    detail: str


# A batch validates into plain dicts, not one model object per row, with the very
# constraints of the contract's Row model; the endpoint turns them into columns.
RowDict = TypedDict(  # type: ignore[misc]
    "RowDict",
    {name: Annotated[field.annotation, field] for name, field in Row.model_fields.items()},
)
RowDict.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
BatchRows = TypedDict(  # noqa: UP013 (the class syntax cannot take the dynamic row type)
    "BatchRows",
    {"instances": Annotated[list[RowDict], Field(min_length=1, max_length=MAX_BATCH)]},
)
BatchRows.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
BATCH_ROWS = TypeAdapter(BatchRows)
