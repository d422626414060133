#!/usr/bin/env bash
# The reviewer-UI browser test drives Debian's Chromium through Playwright (executablePath=/usr/bin/chromium).
# Installs it when missing and we are allowed to (root with apt-get; a failed install fails setup, so CI never
# silently loses the test); without root or apt-get that test skips with the reason.
set -uo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium for the reviewer-UI browser test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || { echo "setup: could not install chromium (apt-get failed)" >&2; exit 1; }
else
  echo "setup: /usr/bin/chromium missing and not root; the browser test will be skipped" >&2
fi
exit 0
