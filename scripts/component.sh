# Sourced by setup-browser.sh, setup-postgres.sh and setup-java.sh: one policy for a component the tests need
# from outside the virtual environment (tests/components.py applies the same one inside pytest).
#
#   missing SUITE REASON   under CI=true: print the reason and exit 1 (every suite must run in CI);
#                          elsewhere: print one line naming the suite that will be skipped, and exit 0.
#   can_install            true when we may install Debian packages (root with apt-get).
missing() {
  if [ "${CI:-}" = "true" ]; then
    echo "setup: $2; CI=true needs $1 to run" >&2
    exit 1
  fi
  echo "setup: skipping $1: $2" >&2
  exit 0
}

can_install() {
  [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1
}

apt_install() {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
