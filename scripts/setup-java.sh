#!/usr/bin/env bash
# `withyou score --engine spark` and its test run Spark (pyspark from PyPI), which needs a Java 17+ runtime.
# Installs Debian's openjdk-17-jre-headless when java is missing and we may (root with apt-get); a failed
# install fails setup. Without root or apt-get it fails with the reason: CI must not silently lose the Spark test.
set -uo pipefail
if command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing openjdk-17-jre-headless for the Spark engine (withyou score --engine spark)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
    || { echo "setup: could not install Java 17 (apt-get failed); Spark needs it" >&2; exit 1; }
else
  echo "setup: Java 17 is missing and this user cannot install it: install openjdk-17-jre-headless or set JAVA_HOME" >&2
  exit 1
fi
exit 0
