"""`withyou score --engine spark`: Spark local mode through mlflow.pyfunc.spark_udf gives the Classifier's labels.

The executors' Python is a clean virtual environment holding only the pyfunc model's requirements.txt (the
`pyfunc_python` fixture), as on a cluster where PYSPARK_PYTHON names such an environment (README.md, "Spark");
withyou reaches them only as the model's code/withyou. Needs pyspark (the `spark` extra) and Java 17
(scripts/setup-java.sh installs it for CI); one Spark run for the module (~20-60 s on 2 cores), shared by the tests.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from tests.clean_env import installed
from tests.components import import_or_missing, missing_component
from withyou.bundle import Classifier, Item

import_or_missing("pyspark", "the Spark engine needs the `spark` extra (pip install -e '.[spark]')")
if not shutil.which("java"):
    missing_component("Java 17 is missing: run scripts/setup-java.sh (Spark runs on a JVM)")

TEXTS = [
    ("me too. my manager, 2019. never told anyone", None),
    ("Sure you were.", "me too. my manager, 2019. never told anyone"),
    ("I believe you, and it was not your fault.", "it happened at a party"),
    ("the meeting moved to thursday", None),
    ("nobody would touch you anyway", "I was groped on the train"),
    ("thank you for sharing this, sending strength", "I finally reported him"),
]
ROWS = [{"id": f"s{i}", "text": f"{TEXTS[i % 6][0]} ({i})", "parent_text": TEXTS[i % 6][1]} for i in range(300)]
BAD = [{"id": "s0", "text": "a second s0"}, {"id": "blank", "text": "  "}, {"text": "no id"}, {"id": "long", "text": "y" * 5001}]


def stop_spark_jvm() -> None:
    """Stop the JVM the in-process run started: Spark keeps it until the Python process exits (it quits when its
    stdin closes), and no test may leave a process running (tests/conftest.py)."""
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        gateway.proc.stdin.close()
        gateway.proc.wait(timeout=60)
        SparkContext._gateway = SparkContext._jvm = None


@pytest.fixture(scope="module")
def spark_run(fp32_bundle: Path, pyfunc_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    directory = tmp_path_factory.mktemp("spark_score")
    source = directory / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS + BAD) + "not json\n", encoding="utf-8")
    output = directory / "out.parquet"
    executor_log = directory / "executor_python.log"  # one line per Python worker the executors start
    executor_python = directory / "executor_python"
    executor_python.write_text(f'#!/bin/sh\necho "$$" >> "{executor_log}"\nexec "{pyfunc_python}" "$@"\n')
    executor_python.chmod(0o755)
    previous = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = str(executor_python)  # read when the SparkContext starts
    result = CliRunner().invoke(
        app,
        ["score", str(source), "-o", str(output), "--bundle", str(fp32_bundle), "--engine", "spark",
         "--spark-master", "local[2]", "--chunk-rows", "64", "--no-progress"],
        catch_exceptions=False,
    )  # fmt: skip
    if previous is None:
        os.environ.pop("PYSPARK_PYTHON")
    else:
        os.environ["PYSPARK_PYTHON"] = previous
    yield {"result": result, "output": output, "directory": directory, "executor_log": executor_log}
    stop_spark_jvm()


def test_spark_labels_equal_the_classifier_on_the_same_rows(spark_run, fp32_bundle):
    assert spark_run["result"].exit_code == 0, spark_run["result"].output
    table = pq.read_table(spark_run["output"]).to_pylist()
    got = {row["id"]: row for row in table}
    expected = Classifier.from_bundle(fp32_bundle).predict([Item(**row) for row in ROWS])

    assert len(table) == len(got) == len(ROWS)
    assert [got[row["id"]]["label"] for row in ROWS] == [p.label for p in expected]
    assert [got[row["id"]]["action"] for row in ROWS] == [p.action for p in expected]
    first = got[ROWS[0]["id"]]
    assert {label: first[f"score_{label}"] for label in expected[0].scores} == pytest.approx(expected[0].scores, abs=1e-5)
    assert first["model_version"] == "tiny-test"


def test_spark_executors_ran_the_clean_environment_without_withyou(spark_run, pyfunc_python):
    assert spark_run["result"].exit_code == 0, spark_run["result"].output
    assert spark_run["executor_log"].read_text().split(), "no executor Python worker ran the clean environment"
    assert "withyou" not in installed(pyfunc_python) and "pyspark" not in installed(pyfunc_python)


def test_spark_rejects_bad_rows_with_the_local_engines_reasons(spark_run):
    rejects = [json.loads(line) for line in Path(f"{spark_run['output']}.rejects.jsonl").read_text().splitlines()]
    reasons = sorted(((r["id"], r["reason"]) for r in rejects), key=str)
    assert reasons == sorted([
        ("s0", "duplicate id (an earlier row has it)"),
        ("blank", "text is empty or whitespace"),
        (None, "missing id"),
        ("long", "text is 5001 characters, over the limit of 5000"),
        (None, "malformed JSON"),
    ], key=str)  # fmt: skip
    summary = json.loads(Path(f"{spark_run['output']}.summary.json").read_text())
    assert summary["engine"] == "spark" and summary["scored"] == len(ROWS) and summary["rejected"] == 5
    assert sum(summary["languages"].values()) == len(ROWS)
