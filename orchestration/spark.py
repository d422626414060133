"""`withyou score --engine spark`: the same scoring as the local engine, on a Spark DataFrame.

The model reaches Spark as the bundle's MLflow pyfunc model (withyou/pyfunc.py; serving/pyfunc.py predicts) through
`mlflow.pyfunc.spark_udf`: MLflow ships the model directory to the executors, Arrow hands the UDF batches of
`chunk_rows` rows, and serving/pyfunc.py keeps one Classifier — one onnxruntime session — per Python worker
process (`spark.python.worker.reuse`, on by default). Each session gets `--ort-threads` threads (default 1: Spark
already runs one task per core). `env_manager="local"`: the executors run PYSPARK_PYTHON as it is, an environment
built from the model's requirements.txt alone (README.md, "Spark"; tests/orchestration/test_score_spark.py).

Bad rows follow the local engine's rules (orchestration/score.py), written as Spark expressions: missing id, an
id with a control or invisible character, duplicate id (the first row in input order is kept), missing, empty or
over-long text, over-long parent; a line that is not JSON is "malformed JSON". Spark reads with a fixed string
schema, so a number where a string belongs (an id 5, which the local engine refuses) is read as its text. Rejects
carry `row: null` (Spark has no cheap row number) and the id.

Output: a directory (Spark's own layout: part files + _SUCCESS) in the format OUTPUT names — Parquet or CSV with
`score_<label>` columns (as in the local engine: quotes doubled, a cell beginning = + - @ tab CR or ' gets a
leading ', no whitespace trimmed), or JSON lines shaped like POST /classify's results. No --resume: a Spark job is
rerun whole (Spark refuses to overwrite an existing output). The cluster recipe is in README.md, "Batch scoring".
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from orchestration.score import ScoreJob, ScoreSummary, reason_kind

INPUT_SCHEMA = "id STRING, text STRING, parent_text STRING, _corrupt_record STRING"
UNSAFE_ID_CHARACTER = r"[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]"  # Java regex: orchestration.score.unsafe_character's classes
FORMULA_CELL = r"^[=+\-@\t\r']"  # Java regex: a CSV cell score_io.csv_cell prefixes with '


def check_java() -> None:
    """Spark runs on a JVM; say so plainly instead of a py4j stack trace."""
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        raise ValueError(
            "--engine spark needs Java 17 (`apt-get install openjdk-17-jre-headless`, or set JAVA_HOME); "
            "use --engine local on a machine without Java"
        )


def spark_session(master: str | None, chunk_rows: int, progress: bool = True):
    check_java()
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ValueError("--engine spark needs pyspark: pip install 'withyou[spark]'") from None
    if (master or "local").startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Spark's default is `python3` on PATH
    builder = SparkSession.builder.appName("withyou-score")
    if master:
        builder = builder.master(master)
    builder = (
        builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
        .config("spark.python.worker.reuse", "true")
        .config("spark.ui.showConsoleProgress", str(progress).lower())
    )
    if (master or "local").startswith("local"):
        builder = builder.config("spark.ui.enabled", "false")
    spark = builder.getOrCreate()
    if (master or "local").startswith("local"):  # one partition per core after the duplicate-id shuffle, not 200
        spark.conf.set("spark.sql.shuffle.partitions", str(spark.sparkContext.defaultParallelism))
    return spark


def read_input(spark, job: ScoreJob):
    """The input as a DataFrame of string columns id, text, parent_text (+ _corrupt_record for JSON lines)."""
    from pyspark.sql import functions as F

    names = job.columns
    if job.input_format == "parquet":
        frame = spark.read.parquet(job.input_uri)
    elif job.input_format == "csv":
        frame = spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(job.input_uri)
    else:
        schema = f"`{names.id}` STRING, `{names.text}` STRING, `{names.parent_text}` STRING, _corrupt_record STRING"
        frame = spark.read.schema(schema).option("mode", "PERMISSIVE").json(job.input_uri)
    wanted = {"id": names.id, "text": names.text, "parent_text": names.parent_text}
    columns = [
        (F.col(f"`{source}`").cast("string") if source in frame.columns else F.lit(None).cast("string")).alias(target)
        for target, source in wanted.items()
    ]
    corrupt = F.col("_corrupt_record") if "_corrupt_record" in frame.columns else F.lit(None).cast("string")
    return frame.select(*columns, corrupt.alias("_corrupt"), F.monotonically_increasing_id().alias("_order"))


def with_reasons(frame, job: ScoreJob):
    """Add `reason` (null for a good row), the local engine's rules as Spark expressions."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    names, limit = job.columns, job.max_text_chars
    first = F.row_number().over(Window.partitionBy("id").orderBy("_order"))
    reason = (
        F.when(F.col("_corrupt").isNotNull(), F.lit("malformed JSON"))
        .when(F.col("id").isNull() | (F.trim("id") == ""), F.lit(f"missing {names.id}"))
        .when(F.col("id").rlike(UNSAFE_ID_CHARACTER), F.lit(f"{names.id} has a control or invisible character"))
        .when(F.col("text").isNull(), F.lit(f"missing {names.text}"))
        .when(F.trim("text") == "", F.lit(f"{names.text} is empty or whitespace"))
        .when(F.length("text") > limit,
              F.format_string(f"{names.text} is %d characters, over the limit of {limit}", F.length("text")))
        .when(F.length("parent_text") > limit,
              F.format_string(f"{names.parent_text} is %d characters, over the limit of {limit}", F.length("parent_text")))
        .when(first > 1, F.lit(f"duplicate {names.id} (an earlier row has it)"))
    )  # fmt: skip
    return frame.withColumn("reason", reason)


def score_with_spark(job: ScoreJob, master: str | None = None) -> ScoreSummary:
    """Score job.input_uri with Spark into the directory job.output_uri (local paths or any URI Spark reads, such
    as hdfs:// or s3a://); rejects go to job.rejects, one local JSONL file."""
    if job.resume:
        raise ValueError("--resume is for --engine local; rerun a Spark job whole into a new output")
    if job.thresholds:
        raise ValueError("threshold overrides are for --engine local; the Spark engine uses the bundle's thresholds")
    if "://" not in job.output_uri and job.output.exists():
        raise FileExistsError(f"{job.output} exists; Spark writes a new output directory")
    import mlflow
    from pyspark.sql import functions as F

    from withyou.bundle import read_json
    from withyou.pyfunc import local_pyfunc_model

    started = time.perf_counter()
    labels = read_json(job.bundle_dir / "labels.json")
    metadata = read_json(job.bundle_dir / "metadata.json")
    spark = spark_session(master, job.chunk_rows, job.progress)
    with tempfile.TemporaryDirectory(prefix="withyou-spark-") as staging:
        model_dir = local_pyfunc_model(job.bundle_dir, Path(staging) / "pyfunc")
        ready = time.perf_counter() - started  # Spark session up, model directory written
        result_type = ", ".join(["label STRING", *(f"score_{label} DOUBLE" for label in labels),
                                 "action STRING", "model_version STRING", "lang STRING", "lang_confidence DOUBLE",
                                 "reason STRING", "stage STRING"])  # fmt: skip
        predict = mlflow.pyfunc.spark_udf(
            spark, str(model_dir), result_type=result_type, env_manager="local",
            model_config={"intra_op_threads": job.ort_threads or 1},
        )  # fmt: skip
        frame = with_reasons(read_input(spark, job), job)
        if job.limit:
            frame = frame.orderBy("_order").limit(job.limit)
        frame = frame.cache()
        good = frame.filter(F.col("reason").isNull())
        scored = good.withColumn("p", predict(F.col("text"), F.col("parent_text"))).select("id", "p.*")
        write_output(scored, job, labels)
        rejects = frame.filter(F.col("reason").isNotNull()).select("id", "reason").toLocalIterator()
        version = str(metadata.get("model_version", "unknown"))
        summary = ScoreSummary(model_version=version, engine="spark", load_seconds=ready)
        with open(job.rejects, "w", encoding="utf-8") as handle:
            for row in rejects:
                handle.write(json.dumps({"row": None, "id": row["id"], "reason": row["reason"]}) + "\n")
                summary.rejected += 1
                summary.reject_reasons[reason_kind(row["reason"])] += 1
        frame.unpersist()
    counted = read_back(spark, job).groupBy("label", "action", "lang").count().collect()
    for row in counted:
        summary.labels[row["label"]] += row["count"]
        summary.actions[row["action"]] += row["count"]
        summary.languages[row["lang"] or "und"] += row["count"]
        summary.scored += row["count"]
    summary.seconds = time.perf_counter() - started
    return summary


def write_output(scored, job: ScoreJob, labels: list[str]) -> None:
    from pyspark.sql import functions as F

    writer_target = job.output_uri
    if job.output_format == "jsonl":
        scores = F.struct(*(F.col(f"score_{label}").alias(label) for label in labels)).alias("scores")
        columns = ["action", "model_version", "lang", "lang_confidence", "reason", "stage"]
        scored.select("id", "label", scores, *columns).write.json(writer_target)
    elif job.output_format == "csv":  # the local engine's CSV cells (score_io.csv_cell): no formula runs
        cells = [F.when(F.col(name).rlike(FORMULA_CELL), F.concat(F.lit("'"), F.col(name))).otherwise(F.col(name))
                 .alias(name) if kind == "string" else F.col(name) for name, kind in scored.dtypes]  # fmt: skip
        writer = scored.select(*cells).write.option("header", True).option("escape", '"')  # "" as in RFC 4180, not \"
        # Spark trims cells it writes by default, which would turn " =1" into a formula
        writer.option("ignoreLeadingWhiteSpace", False).option("ignoreTrailingWhiteSpace", False).csv(writer_target)
    else:
        scored.write.parquet(writer_target)


def read_back(spark, job: ScoreJob):
    if job.output_format == "jsonl":
        return spark.read.json(job.output_uri)
    if job.output_format == "csv":
        return spark.read.option("header", True).option("escape", '"').csv(job.output_uri)
    return spark.read.parquet(job.output_uri)
