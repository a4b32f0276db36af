#!/bin/sh
# The batch-scoring RayJob's entrypoint, on the Ray head: fetch the champion a training run
# stored (MODEL_URL, its models/champion), then score INPUT_URL into OUTPUT_URL, both read
# and written in the bucket through fsspec. The URLs come from the ConfigMap ray-score
# (make *-ray-score).
set -eu
cd /work
python - <<'PYTHON'
import os

import fsspec

fs, path = fsspec.core.url_to_fs(os.environ["MODEL_URL"])
fs.get(f"{path.rstrip('/')}/", "models/champion/", recursive=True)
PYTHON
exec {{ cookiecutter.project_slug | replace('_', '-') }} score --input "$INPUT_URL" --output "$OUTPUT_URL"
