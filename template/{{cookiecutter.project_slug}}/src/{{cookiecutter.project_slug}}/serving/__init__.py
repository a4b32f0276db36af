"""Serving: the prediction API (FastAPI) over the champion's compiled scorer, its schemas,
Prometheus metrics and hot-swappable model slot, the canary a model passes before it may
serve, and the inference log of every prediction. The serving image needs nothing from
training (import-linter enforces it: see pyproject.toml)."""
