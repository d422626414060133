#!/usr/bin/env bash
# The main job: set up .venv/, train a model if none exists (build dataset → train → evaluate → promote),
# then serve it on http://127.0.0.1:3000. Extra arguments go to `withyou up` (see `withyou up --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/withyou up "$@"
