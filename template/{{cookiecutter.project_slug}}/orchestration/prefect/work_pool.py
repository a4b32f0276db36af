"""The work pool's base job template: its type's default, with the cloud's settings as defaults.

`make flow-deploy` pipes in the Terraform output `prefect_work_pool` (where the flow runs go:
cluster, network, identities, logs, environment) and creates the pool from what this prints,
so that every deployment in the pool runs there unless it overrides a variable. A setting the
pool type does not have, or a value its schema refuses, stops here in one line: the worker
would otherwise ignore it, or fail at the first flow run.

    python -m orchestration.prefect.work_pool ecs < settings.json > base-job-template.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from prefect.workers.base import BaseWorker
from pydantic import ValidationError, create_model


def base_job_template(pool_type: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The pool type's default base job template, `settings` the defaults of its variables."""
    if not isinstance(settings, dict):
        raise ValueError("the work pool's settings must be a JSON object of job variables")
    worker = BaseWorker.get_worker_class_from_type(pool_type)
    if worker is None or worker.job_configuration_variables is None:
        raise ValueError(f"no worker of type {pool_type!r} is installed (uv sync)")
    template = worker.get_default_base_job_template()
    known = template["variables"]["properties"]
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ValueError(f"not a job variable of a {pool_type} work pool: {', '.join(unknown)}")
    # The settings alone, as the worker's variables declare them (the whole model would
    # build defaults too, such as cloud credentials from the environment). Strict:
    # Terraform's JSON has the types the worker reads, or it holds a mistake.
    fields = worker.job_configuration_variables.model_fields
    given = create_model(  # type: ignore[call-overload]
        "JobVariables", **{name: (fields[name].annotation, fields[name]) for name in settings}
    )
    try:
        given.model_validate(settings, strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"job variable {where}: {first['msg']}") from None
    for name, value in settings.items():
        known[name]["default"] = value
    return template


def main() -> None:
    pool_type = sys.argv[1]
    try:
        settings = json.load(sys.stdin)
        template = base_job_template(pool_type, settings)
    except json.JSONDecodeError as error:
        sys.exit(f"error: the work pool's settings are not JSON ({error})")
    except ValueError as error:
        sys.exit(f"error: {error}")
    json.dump(template, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
