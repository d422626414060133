#!/usr/bin/env bash
# The reviewer-UI browser test drives Debian's Chromium through Playwright (executablePath=/usr/bin/chromium).
# Installs it when missing and we may (root with apt-get); otherwise scripts/component.sh's policy: CI=true fails,
# elsewhere one line names the skipped suite.
set -uo pipefail
source "$(dirname "$0")/component.sh"
suite="the reviewer-UI browser test (tests/review/test_browser.py)"
if [ -x /usr/bin/chromium ]; then exit 0; fi
can_install || missing "$suite" "/usr/bin/chromium is missing and this user cannot install it (apt-get install chromium)"
echo "setup: installing chromium for the reviewer-UI browser test"
apt_install chromium || missing "$suite" "could not install chromium (apt-get failed)"
exit 0
