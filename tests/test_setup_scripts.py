"""scripts/setup-*.sh follow one policy for a component the tests need from outside the virtual environment
(scripts/component.sh): under CI=true a component that cannot be installed fails setup; elsewhere setup prints one
line naming the suite that will be skipped and goes on."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from withyou.paths import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"


def run_missing(ci: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CI"} | ({"CI": ci} if ci is not None else {})
    command = f'source "{SCRIPTS / "component.sh"}"; missing "the X tests" "X is missing"; echo not reached'
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env)


def test_a_missing_component_fails_setup_under_ci():
    completed = run_missing("true")
    assert completed.returncode == 1 and "X is missing; CI=true needs the X tests to run" in completed.stderr
    assert "not reached" not in completed.stdout


def test_a_missing_component_is_one_line_naming_the_skipped_suite_outside_ci():
    completed = run_missing(None)
    assert completed.returncode == 0 and "not reached" not in completed.stdout
    assert completed.stderr.splitlines() == ["setup: skipping the X tests: X is missing"]


def test_setup_java_without_java_or_root_fails_under_ci_and_names_the_suite_elsewhere(tmp_path):
    """A machine with no java on PATH, no JAVA_HOME and a user who cannot install packages."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")
    (bin_dir / "id").chmod(0o755)
    (bin_dir / "dirname").symlink_to("/usr/bin/dirname")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    script = [str(Path("/bin/bash")), str(SCRIPTS / "setup-java.sh")]
    in_ci = subprocess.run(script, capture_output=True, text=True, env=env | {"CI": "true"})
    assert in_ci.returncode == 1 and "Java 17 is missing" in in_ci.stderr
    local = subprocess.run(script, capture_output=True, text=True, env=env)
    [line] = local.stderr.splitlines()
    assert local.returncode == 0 and line.startswith("setup: skipping the Spark engine tests")


def test_every_component_setup_script_uses_the_policy():
    for name in ("setup-browser.sh", "setup-postgres.sh", "setup-java.sh"):
        text = (SCRIPTS / name).read_text()
        assert 'source "$(dirname "$0")/component.sh"' in text and "missing " in text
        assert "exit 1" not in text  # failing is missing's decision (CI=true), never the script's own
