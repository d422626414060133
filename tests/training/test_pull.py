"""`withyou data pull`: download through file:// URLs, checksum verified, corrupted downloads refused and deleted."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.pull import PullError, pull_dataset
from orchestration.cli import app

GOOD = (
    b"rewire_id,text,label_sexist,label_category,label_vector,split\n"
    b"q1,the tram was on time,not sexist,none,none,train\n"
)


def sources_table(tmp_path: Path, url: str, sha256: str) -> Path:
    """A one-dataset sources table whose single file comes from `url`."""
    table = tmp_path / "sources.toml"
    table.write_text(
        f"""
[edos]
title = "test copy"
folder = "edos"
licence = "CC0-1.0"
mapping = {{ "sexist" = "harassing", "not sexist" = "neutral" }}
[[edos.files]]
path = "edos_labelled_aggregated.csv"
url = "{url}"
sha256 = "{sha256}"
[[edos.mirror_files]]
path = "edos_labelled_aggregated.train_dev.csv"
""",
        encoding="utf-8",
    )
    return table


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    path = tmp_path / "upstream" / "edos_labelled_aggregated.csv"
    path.parent.mkdir()
    path.write_bytes(GOOD)
    return path


def test_pull_downloads_file_url_and_verifies_its_sha256(tmp_path, upstream):
    table = sources_table(tmp_path, upstream.as_uri(), hashlib.sha256(GOOD).hexdigest())
    (pulled,) = pull_dataset("edos", tmp_path / "data", table)
    assert pulled.status == "downloaded"
    assert (tmp_path / "data" / "edos" / "edos_labelled_aggregated.csv").read_bytes() == GOOD


def test_pull_refuses_and_deletes_a_corrupted_download(tmp_path, upstream):
    table = sources_table(tmp_path, upstream.as_uri(), hashlib.sha256(GOOD).hexdigest())
    upstream.write_bytes(GOOD.replace(b"on time", b"on tIme"))
    with pytest.raises(PullError, match="checksum mismatch .* the download was deleted"):
        pull_dataset("edos", tmp_path / "data", table)
    assert list((tmp_path / "data" / "edos").iterdir()) == []


def test_corrupted_download_leaves_a_previous_good_copy_untouched(tmp_path, upstream):
    table = sources_table(tmp_path, upstream.as_uri(), hashlib.sha256(GOOD).hexdigest())
    pull_dataset("edos", tmp_path / "data", table)
    dest = tmp_path / "data" / "edos" / "edos_labelled_aggregated.csv"
    dest.write_bytes(GOOD + b"local edit\n")
    upstream.write_bytes(b"truncated")
    with pytest.raises(PullError):
        pull_dataset("edos", tmp_path / "data", table)
    assert dest.read_bytes() == GOOD + b"local edit\n"


def test_pull_skips_a_file_already_present_with_the_right_hash(tmp_path, upstream):
    table = sources_table(tmp_path, upstream.as_uri(), hashlib.sha256(GOOD).hexdigest())
    pull_dataset("edos", tmp_path / "data", table)
    upstream.unlink()
    (pulled,) = pull_dataset("edos", tmp_path / "data", table)
    assert pulled.status == "already present"


def test_pull_refuses_an_unpinned_file_unless_allowed(tmp_path, upstream):
    table = sources_table(tmp_path, upstream.as_uri(), "")
    with pytest.raises(PullError, match="no sha256 pinned"):
        pull_dataset("edos", tmp_path / "data", table)
    (pulled,) = pull_dataset("edos", tmp_path / "data", table, allow_unpinned=True)
    assert pulled.sha256 == hashlib.sha256(GOOD).hexdigest()


def test_pull_of_a_missing_url_is_a_clear_error(tmp_path):
    table = sources_table(tmp_path, (tmp_path / "nowhere.csv").as_uri(), "0" * 64)
    with pytest.raises(PullError, match="download of file://.*nowhere.csv failed"):
        pull_dataset("edos", tmp_path / "data", table)


def test_pull_of_an_unknown_dataset_names_the_known_ones(tmp_path, upstream):
    table = sources_table(tmp_path, upstream.as_uri(), "")
    with pytest.raises(PullError, match="unknown dataset 'nope'; known: edos"):
        pull_dataset("nope", tmp_path / "data", table)


def test_pulled_file_is_read_by_the_adapter(tmp_path, upstream):
    from training.adapters import ReadLog, read_source
    from training.sources import load_sources

    table = sources_table(tmp_path, upstream.as_uri(), hashlib.sha256(GOOD).hexdigest())
    pull_dataset("edos", tmp_path / "data", table)
    records = list(read_source(load_sources(table)["edos"], tmp_path / "data", ReadLog(strict=True)))
    assert [(r.id, r.label) for r in records] == [("edos:q1", "neutral")]


def test_cli_pull_reports_a_corrupted_download_without_traceback(tmp_path, upstream):
    table = sources_table(tmp_path, upstream.as_uri(), "f" * 64)
    result = CliRunner().invoke(
        app, ["data", "pull", "edos", "--data-dir", str(tmp_path / "data"), "--sources-file", str(table)]
    )
    assert result.exit_code == 1
    assert "checksum mismatch" in result.output
    assert "Traceback" not in result.output


def test_cli_pull_downloads_with_data_dir_from_the_environment(tmp_path, upstream, monkeypatch):
    table = sources_table(tmp_path, upstream.as_uri(), hashlib.sha256(GOOD).hexdigest())
    monkeypatch.setenv("WITHYOU_DATA_DIR", str(tmp_path / "env-data"))
    result = CliRunner().invoke(app, ["data", "pull", "edos", "--sources-file", str(table)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env-data" / "edos" / "edos_labelled_aggregated.csv").read_bytes() == GOOD
