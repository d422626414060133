#!/usr/bin/env bash
# The review-store tests start a throw-away PostgreSQL server with initdb + pg_ctl (tests/review/postgres.py).
# Installs Debian's PostgreSQL server when neither PATH nor /usr/lib/postgresql/*/bin has them and we may (root with
# apt-get); otherwise scripts/component.sh's policy: CI=true fails, elsewhere one line names the skipped suite.
# The tests never use a packaged cluster: they make their own.
set -uo pipefail
source "$(dirname "$0")/component.sh"
suite="the PostgreSQL review-store tests (tests/review/test_postgres.py, test_store.py)"
if command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then exit 0; fi
can_install || missing "$suite" "PostgreSQL (initdb, pg_ctl) is missing and this user cannot install it (apt-get install postgresql)"
echo "setup: installing postgresql for the review-store tests"
apt_install --no-install-recommends postgresql || missing "$suite" "could not install postgresql (apt-get failed)"
exit 0
