#!/usr/bin/env bash
# `withyou score --engine spark` and its tests run Spark (pyspark from PyPI), which needs a Java 17+ runtime.
# Installs Debian's openjdk-17-jre-headless when java is missing and we may (root with apt-get); otherwise
# scripts/component.sh's policy: CI=true fails, elsewhere one line names the skipped suite.
set -uo pipefail
source "$(dirname "$0")/component.sh"
suite="the Spark engine tests (tests/orchestration/test_score_spark.py, the Spark case of test_score_hostile.py)"
if command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ]; then exit 0; fi
can_install || missing "$suite" "Java 17 is missing and this user cannot install it (install openjdk-17-jre-headless or set JAVA_HOME)"
echo "setup: installing openjdk-17-jre-headless for the Spark engine (withyou score --engine spark)"
apt_install openjdk-17-jre-headless || missing "$suite" "could not install Java 17 (apt-get failed)"
exit 0
