"""The API's request and response models, derived from the data contract: FastAPI
documents them in the OpenAPI schema, and a batch is validated in one pass of pydantic-core
over the raw JSON (no per-row objects: a batch becomes columns)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
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


class NotReady(BaseModel):
    status: Literal["not ready"] = "not ready"
    detail: str
    model_dir: str


class Prediction(BaseModel):
    """One row's score."""

    decision: Decision = Field(
        description=f"{POSITIVE_CLASS}: {CONTRACT.class_meanings[POSITIVE_CLASS]}; "
        f"{NEGATIVE_CLASS}: {CONTRACT.class_meanings[NEGATIVE_CLASS]}"
    )
    label: int = Field(
        ge=0,
        le=1,
        description=f"The decision as {TARGET.name}: 1 = {POSITIVE_CLASS}, 0 = "
        f"{NEGATIVE_CLASS} ({TARGET.description})",
    )
    probability: float = Field(ge=0, le=1, description=f"Probability of {POSITIVE_CLASS}")


class DecisionPolicy(BaseModel):
    """The threshold behind the decisions; it ships inside the model version that chose it."""

    model_name: str
    model_version: str
    threshold: float = Field(description=f"{POSITIVE_CLASS} is decided from this probability on")
    threshold_version: str = Field(description="The model version whose training chose it")


class PredictionResponse(Prediction, DecisionPolicy):
    pass


class BatchRequest(BaseModel):
    """Up to MAX_BATCH rows (the request body of /predict/batch)."""

    model_config = ConfigDict(extra="forbid")
    instances: list[Row] = Field(
        description=f"The {ROWS} to score.",
        min_length=1,
        max_length=MAX_BATCH,
        json_schema_extra={"examples": [[EXAMPLE, EXAMPLE]]},
    )


class BatchResponse(DecisionPolicy):
    predictions: list[Prediction]


class CompactBatchResponse(DecisionPolicy):
    """The batch's predictions as columns: one list per field of Prediction, in request
    order (smaller and faster to produce and parse than a list of objects)."""

    decision: list[Decision]
    label: list[int]
    probability: list[float]


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
