# syntax=docker/dockerfile:1
# The flows' image on ECS: the project's training image (the Dockerfile's `training` target:
# the `pipeline` and `orchestrator` groups, prefect-aws among them, and this directory in
# /app) without its entrypoint. ECS replaces an image's command, never its entrypoint, and
# every run gives its whole command: the worker `prefect worker start ...`, a flow run
# `python -m prefect.engine`. `make flow-image` builds both and pushes this one.
ARG TRAINING_IMAGE
FROM ${TRAINING_IMAGE}
WORKDIR /app
ENTRYPOINT []
CMD ["prefect", "version"]
