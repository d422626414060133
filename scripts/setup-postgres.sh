#!/usr/bin/env bash
# The review-store tests start a throw-away PostgreSQL server with initdb + pg_ctl (tests/serving/review/postgres.py).
# Installs Debian's PostgreSQL server when neither PATH nor /usr/lib/postgresql/*/bin has them and we are allowed
# to (root with apt-get; a failed install fails setup, so CI never silently loses the tests); without root or
# apt-get those tests skip with the reason. The tests never use a packaged cluster: they make their own.
set -uo pipefail
if command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing postgresql for the review-store tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null) \
    || { echo "setup: could not install postgresql (apt-get failed)" >&2; exit 1; }
else
  echo "setup: PostgreSQL (initdb, pg_ctl) missing and not root; the PostgreSQL review-store tests will be skipped" >&2
fi
exit 0
