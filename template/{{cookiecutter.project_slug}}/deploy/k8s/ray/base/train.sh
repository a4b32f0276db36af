#!/bin/sh
# The training RayJob's entrypoint, on the Ray head: fetch the raw data from the bucket, run
# the pipeline (its steps join the job's cluster: Ray sets RAY_ADDRESS), then copy models/
# and reports/ back. RAW_URL and STORE_URL come from the ConfigMap ray-train (make *-ray-train).
set -eu
mkdir -p /work/data/raw && cd /work
export {{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH="/work/data/raw/${RAW_URL##*/}"
python - <<'PYTHON'
import os

import fsspec

fs, path = fsspec.core.url_to_fs(os.environ["RAW_URL"])
fs.get(path, os.environ["{{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH"])
PYTHON
{{ cookiecutter.project_slug | replace('_', '-') }} pipeline
python - <<'PYTHON'
import os

import fsspec

fs, path = fsspec.core.url_to_fs(os.environ["STORE_URL"])
for folder in ("models", "reports"):
    fs.put(folder, f"{path.rstrip('/')}/{folder}", recursive=True)
print(f"models and reports -> {os.environ['STORE_URL']}")
PYTHON
