#!/usr/bin/env bash
# Set up .venv/ (scripts/setup.sh) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-browser.sh
bash scripts/setup-postgres.sh
bash scripts/setup-java.sh
exec .venv/bin/python -P -m pytest "$@"
