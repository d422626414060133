"""`withyou serve` on a bundle that cannot serve exits non-zero within seconds, saying why — no restart loop,
no port left listening (issue 13, defect 5). The loader (withyou/integrity.py) refuses each corruption below
and names the file; its own checks (checksums, label order, thresholds schema) are tested in tests/withyou/.
A registered bundle tampered with consistently, and a bundle without checksums, are refused too (issue 22).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from serving.process import free_port
from tests.serving.conftest import withyou_command
from tests.tampering import TAMPERINGS, register_bundle, store_copy, use_temporary_registry
from withyou.integrity import CHECKSUMS_KEY

EXIT_WITHIN_S = 20


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:2000])


CORRUPTIONS = {
    "truncated model": ("model.onnx", truncate),
    "empty model": ("model.onnx", lambda path: path.write_bytes(b"")),
    "garbage thresholds": ("thresholds.json", lambda path: path.write_text("garbage{", encoding="utf-8")),
    "list thresholds": ("thresholds.json", lambda path: path.write_text("[0.2, 0.9]", encoding="utf-8")),
    "inverted thresholds": (
        "thresholds.json",
        lambda path: path.write_text(json.dumps({"review": 0.95, "hide": 0.2}), encoding="utf-8"),
    ),
    "empty thresholds": ("thresholds.json", lambda path: path.write_text("{}", encoding="utf-8")),
    "reordered labels": (
        "labels.json",
        lambda path: path.write_text(json.dumps(["disclosure", "supportive", "neutral", "harassing"]), encoding="utf-8"),
    ),
    "garbage tokenizer": ("tokenizer.json", lambda path: path.write_text("garbage", encoding="utf-8")),
    "text temperature": ("calibration.json", lambda path: path.write_text('{"temperature": "abc"}', encoding="utf-8")),
}


def serve(bundle: Path, *args: str, env: dict[str, str] | None = None, timeout_s: float = 60) -> tuple[int, str, float, int]:
    port = free_port()
    command = [*withyou_command(), "serve", "--bundle", str(bundle), "--port", str(port), *args]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired as exc:  # still serving: the defect this file guards against
        pytest.fail(f"withyou serve still running after {timeout_s} s:\n{(exc.stdout or b'')[-2000:]!r}")
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started, port


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_a_corrupt_bundle_stops_serve_within_seconds_naming_the_file(tiny_bundle, tmp_path, case):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    name, corrupt = CORRUPTIONS[case]
    corrupt(bundle / name)

    code, output, seconds, port = serve(bundle)

    assert code != 0, output
    assert seconds < EXIT_WITHIN_S, f"{seconds:.1f} s"
    assert "cannot serve" in output and port_is_closed(port)
    assert name in output.split("cannot serve", 1)[1], output[-1500:]


def test_a_worker_that_cannot_start_stops_the_server(tiny_bundle):
    """The bundle loads in the CLI's check, but the worker fails (its review sink cannot be built): BentoML would
    restart it forever; instead the server stops and `withyou serve` exits 3 with the worker's reason."""
    code, output, seconds, port = serve(tiny_bundle, "--review-sink", "tests.serving.jsonl_sink:no_such_factory")

    assert code == 3, output[-3000:]
    assert seconds < EXIT_WITHIN_S, f"{seconds:.1f} s"
    assert "a worker failed to start" in output and "no_such_factory" in output
    assert port_is_closed(port)


@pytest.mark.parametrize("content", ["{not json", "[]", '{"ana": "short"}'])
def test_a_bad_reviewers_file_stops_serve_before_any_worker_naming_the_file(tiny_bundle, tmp_path, content):
    """The service builds its reviewer app when BentoML imports it; a bad reviewers file used to fail that import
    with a traceback (exit 1). The CLI's pre-flight now refuses it like a corrupt bundle: exit 2, one line."""
    reviewers = tmp_path / "reviewers.json"
    reviewers.write_text(content, encoding="utf-8")
    env = {**os.environ, "WITHYOU_REVIEW_REVIEWERS_FILE": str(reviewers), "WITHYOU_REVIEW_SECRET": "s" * 40}
    env["WITHYOU_REVIEW_DB"] = str(tmp_path / "review.db")

    code, output, seconds, port = serve(tiny_bundle, env=env)

    assert code == 2, output[-3000:]
    assert seconds < EXIT_WITHIN_S, f"{seconds:.1f} s"
    assert "cannot serve: the review app does not start" in output and str(reviewers) in output, output[-1500:]
    assert "Traceback" not in output and port_is_closed(port)


def refusal_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "cannot serve" in line]


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_a_consistently_tampered_registered_champion_stops_serve_in_one_line(tiny_random_bundle, tmp_path, monkeypatch,
                                                                            tampering):
    """Issue 22: labels reordered in labels.json and metadata.json (or the vocabulary shuffled), checksums
    recomputed, in the artifact store: every check inside the bundle passed and the champion served wrong answers.
    The digest the registry recorded at registration refuses it before any server starts."""
    from training.tracking import promote

    use_temporary_registry(tmp_path, monkeypatch)
    version = register_bundle(tiny_random_bundle, tmp_path / "model")
    promote(version)
    TAMPERINGS[tampering](store_copy(version))

    code, output, seconds, port = serve("champion", env=dict(os.environ))

    assert code == 2, output[-3000:]
    assert seconds < EXIT_WITHIN_S, f"{seconds:.1f} s"
    (line,) = refusal_lines(output)
    assert f"registered model 'withyou' version {version}: its bundle's digest is" in line
    assert "recorded at registration" in line
    assert "Traceback" not in output and port_is_closed(port)


def test_a_bundle_without_checksums_stops_serve_unless_allowed(tiny_random_bundle, tmp_path):
    """Issue 22: a bundle whose metadata.json records no checksums was served with a warning only."""
    bundle = Path(shutil.copytree(tiny_random_bundle, tmp_path / "bundle"))
    metadata = json.loads((bundle / "metadata.json").read_text())
    metadata.pop(CHECKSUMS_KEY)
    (bundle / "metadata.json").write_text(json.dumps(metadata))

    code, output, seconds, port = serve(bundle)

    assert code == 2, output[-3000:]
    assert seconds < EXIT_WITHIN_S, f"{seconds:.1f} s"
    (line,) = refusal_lines(output)
    assert "records no file checksums (metadata.json `files`)" in line and "--allow-unverified-bundle" in line
    assert "Traceback" not in output and port_is_closed(port)

    # allowed: past the pre-flight and the worker's own check, up to the review sink this test cannot build
    code, output, _, port = serve(bundle, "--allow-unverified-bundle", "--review-sink", "tests.serving.jsonl_sink:no_such_factory")
    assert code == 3, output[-3000:]
    assert "a worker failed to start" in output and "no_such_factory" in output and port_is_closed(port)
