"""How the API answers: JSON bodies serialised by pydantic-core, the 400/422 of a bad
request, the 503 of a missing model, and the OpenAPI descriptions of those answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Response
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from .schemas import InvalidRequest, MalformedRequest, NotReady
from .slot import ModelSlot

JSON = "application/json"
RETRY_AFTER_SECONDS = 10  # a 503's hint: how soon a promoted model may be served
NO_MODEL = (
    "no champion model exists yet: train and promote one with `make pipeline`, "
    "then retry (the API loads it on the next request)"
)
NO_MODEL_RESPONSE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": NotReady,
        "description": "No model to serve yet.",
        "headers": {
            "Retry-After": {
                "description": "Seconds after which to try again.",
                "schema": {"type": "integer"},
            }
        },
    }
}
BAD_REQUEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": MalformedRequest, "description": "The body is not valid JSON."},
    422: {"model": InvalidRequest, "description": "The body breaks the data contract."},
}


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(to_json(content), status_code=status_code, headers=headers, media_type=JSON)


def invalid(error: ValidationError) -> Response:
    """400 for a body that is not JSON, else 422 naming each offending field."""
    errors = error.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return json_response({"detail": f"the body is not valid JSON: {errors[0]['msg']}"}, 400)
    detail = [{**e, "loc": ["body", *e["loc"]]} for e in errors]
    return Response(to_json({"detail": detail}, fallback=str), status_code=422, media_type=JSON)


def not_ready(slot: ModelSlot) -> Response:
    """503 with Retry-After, saying why the slot serves no model."""
    body = NotReady(detail=slot.problem or NO_MODEL, model_dir=str(slot.directory))
    return json_response(body.model_dump(), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI request body for `model`, with its definitions inlined (the endpoints
    parse the body themselves, so FastAPI does not list the model's schema)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    media_type = {"schema": inline(schema)}
    return {"requestBody": dict(required=True, content={JSON: media_type})}
