"""What a bundle directory must hold, checked before it answers anything: files, checksums, JSON schemas.

Export records the SHA-256 and size of every bundle file in metadata.json (`files`; metadata.json itself is not
in it) and `write_bundle_json` keeps the record true when evaluation rewrites thresholds.json or calibration.json.
`read_bundle` checks, in this order, and raises BundleError naming the file and what is wrong:

    presence      model.onnx, tokenizer.json, labels.json, thresholds.json, calibration.json, metadata.json
    no pickles    no file that is a pickle (by name or by its opening bytes): a bundle is data
    stages        metadata.json `stages`; with "linear", linear.json, linear.npz and blend.json (STAGE_FILES)
    metadata.json a JSON object; `labels` (training order), `encoding` and `text_normalization` when present
    labels.json   a list of ≥ 2 distinct non-empty names, equal — order included — to metadata.json `labels`
                  (the logit order the model was trained with), one of them "harassing" (the policy's label)
    thresholds    numeric `review` and `hide` in [0, 1], review ≤ hide (withyou.policy.parse_thresholds)
    calibration   numeric `temperature` > 0
    checksums     size and SHA-256 of every file metadata.json records and the bundle holds (only an optional file,
                  model.fp32.onnx, may be gone); a bundle exported before checksums were recorded has none: it
                  loads with one warning per process and path, its files unverified (`withyou serve` refuses it
                  unless told --allow-unverified-bundle; evaluation and `withyou score` load it with the warning)

Checksums inside the bundle catch corruption, not tampering: whoever can rewrite a file can rewrite metadata.json
too. `bundle_digest` is the bundle's content address, which the model registry records per version at
registration (withyou/registry.py DIGEST_TAG), outside the artifact store; resolving a registered version
checks it.

The tokenizer and the ONNX graph are opened and checked against the labels by withyou.bundle.Classifier.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from withyou.encoding import NORMALIZATION, EncodingSpec
from withyou.labels import HARASSING
from withyou.policy import Thresholds, parse_thresholds

BUNDLE_FILES = ("model.onnx", "tokenizer.json", "labels.json", "thresholds.json", "calibration.json", "metadata.json")
OPTIONAL_FILES = ("model.fp32.onnx",)
STAGE_FILES = ("linear.json", "linear.npz", "blend.json")
"""The linear stage and the blend (withyou/linear.py, withyou/blend.py): required when metadata.json `stages`
lists "linear", checksummed like the required files."""
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
CHECKSUMS_KEY = "files"
"""metadata.json key: {file name: {"sha256": hex digest, "bytes": size}} for every bundle file but metadata.json."""

log = logging.getLogger("withyou.bundle")
_warned_unverified: set[str] = set()


class BundleError(ValueError):
    """A bundle directory is missing a file or holds an inconsistent one; the message names the file."""


@dataclass(frozen=True)
class BundleContents:
    """The checked JSON side of a bundle (what Classifier needs besides the tokenizer and the graph)."""

    labels: list[str]
    metadata: dict[str, Any]
    thresholds: Thresholds
    temperature: float
    normalize: bool
    encoding: EncodingSpec | None
    """None for a bundle exported before metadata.json recorded its encoding (the reader infers it)."""
    checksums_verified: bool
    stages: list[str]
    """metadata.json `stages`: ["transformer"], or ["transformer", "linear"] for a bundle with a linear stage."""


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"bundle file missing: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle file {path} is not valid JSON: {exc}") from None


def check_bundle_dir(path: Path) -> None:
    """Cheap presence check (the bundle-reference resolver's); `read_bundle` / withyou.bundle.verify_bundle check content."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"no bundle directory at {path}")
    missing = [name for name in BUNDLE_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"bundle {path} is missing {', '.join(missing)}")


def file_record(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}


def bundle_digest(bundle_dir: Path) -> str:
    """SHA-256 over the sorted (file name, file SHA-256) list of the bundle's files: BUNDLE_FILES and the optional
    ones present, metadata.json included (labels, encoding, checksums). Files beside them — the MLflow pyfunc
    model's (withyou/pyfunc.py) — are not part of it; the Classifier never reads them."""
    bundle_dir = Path(bundle_dir)
    names = sorted(name for name in (*BUNDLE_FILES, *OPTIONAL_FILES, *STAGE_FILES) if (bundle_dir / name).is_file())
    listing = "".join(f"{name}\t{file_record(bundle_dir / name)['sha256']}\n" for name in names)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _write_json_atomic(path: Path, payload: Any) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def record_checksums(bundle_dir: Path) -> dict[str, dict[str, Any]]:
    """Write metadata.json `files`: size and SHA-256 of every bundle file present (export calls it last)."""
    bundle_dir = Path(bundle_dir)
    names = [name for name in (*BUNDLE_FILES, *OPTIONAL_FILES, *STAGE_FILES)
             if name != "metadata.json" and (bundle_dir / name).is_file()]
    records = {name: file_record(bundle_dir / name) for name in names}
    metadata = read_json(bundle_dir / "metadata.json")
    _write_json_atomic(bundle_dir / "metadata.json", {**metadata, CHECKSUMS_KEY: records})
    return records


def write_bundle_json(bundle_dir: Path, name: str, payload: Any) -> Path:
    """Write one JSON file of a bundle (evaluation: thresholds.json, calibration.json) and update its checksum in
    metadata.json, so the bundle still verifies. A bundle without checksums stays without."""
    bundle_dir = Path(bundle_dir)
    if name == "metadata.json":
        raise ValueError("metadata.json is not written through write_bundle_json")
    path = bundle_dir / name
    _write_json_atomic(path, payload)
    if not (bundle_dir / "metadata.json").is_file():
        return path
    metadata = read_json(bundle_dir / "metadata.json")
    if isinstance(metadata, dict) and isinstance(metadata.get(CHECKSUMS_KEY), dict):
        files = {**metadata[CHECKSUMS_KEY], name: file_record(path)}
        _write_json_atomic(bundle_dir / "metadata.json", {**metadata, CHECKSUMS_KEY: files})
    return path


def verify_checksums(bundle_dir: Path, metadata: dict[str, Any]) -> bool:
    """Compare every recorded file with its record; False (and one warning) for a bundle that records none."""
    records = metadata.get(CHECKSUMS_KEY)
    if records is None:
        key = str(Path(bundle_dir).resolve())
        if key not in _warned_unverified:
            _warned_unverified.add(key)
            log.warning("bundle %s has no file checksums in metadata.json (exported before they were recorded): "
                        "its files are not verified; re-export it to record them", bundle_dir)
        return False
    if not isinstance(records, dict) or not records:
        raise BundleError(f"{bundle_dir / 'metadata.json'}: `{CHECKSUMS_KEY}` must be a non-empty object of file records")
    for name, record in records.items():
        path = Path(bundle_dir) / name
        if not isinstance(record, dict) or not isinstance(record.get("sha256"), str) or not isinstance(record.get("bytes"), int):
            raise BundleError(f"{bundle_dir / 'metadata.json'}: the checksum record of {name} is malformed")
        if not path.is_file():
            if name in OPTIONAL_FILES:  # e.g. model.fp32.onnx removed to save space: not served, not needed
                continue
            raise BundleError(f"{path}: recorded in metadata.json at export but missing")
        size = path.stat().st_size
        if size != record["bytes"]:
            raise BundleError(f"{path}: {size} bytes, but {record['bytes']} were recorded at export — the file is "
                              "truncated or was changed; re-export the bundle (or restore the file)")
        if file_record(path)["sha256"] != record["sha256"]:
            raise BundleError(f"{path}: SHA-256 differs from the one recorded at export — the file was changed or "
                              "corrupted; re-export the bundle (or restore the file)")
    return True


def read_labels(bundle_dir: Path, metadata: dict[str, Any]) -> list[str]:
    path = Path(bundle_dir) / "labels.json"
    labels = read_json(path)
    if not isinstance(labels, list) or not all(isinstance(label, str) and label.strip() for label in labels):
        raise BundleError(f"{path} must be a JSON list of label names in logit order, got {str(labels)[:80]}")
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise BundleError(f"{path} must list at least two distinct labels, got {labels}")
    trained = metadata.get("labels")
    if trained is not None and trained != labels:
        raise BundleError(f"{path} lists {labels}, but the model was trained with the labels in the order {trained} "
                          "(metadata.json `labels`): its scores would be read under the wrong names")
    if HARASSING not in labels:
        raise BundleError(f"{path} has no {HARASSING!r} label ({labels}): the allow/review/hide policy acts on "
                          f"P({HARASSING}) (withyou/policy.py), so this bundle cannot be served")
    return labels


def read_thresholds(bundle_dir: Path) -> Thresholds:
    path = Path(bundle_dir) / "thresholds.json"
    try:
        return parse_thresholds(read_json(path))
    except ValueError as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{path}: {exc} — expected e.g. {{\"review\": 0.2, \"hide\": 0.9}}; "
                          "run `withyou evaluate` to write fitted thresholds") from None


def read_temperature(bundle_dir: Path) -> float:
    path = Path(bundle_dir) / "calibration.json"
    calibration = read_json(path)
    temperature = calibration.get("temperature") if isinstance(calibration, dict) else None
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise BundleError(f"{path}: `temperature` must be a number > 0, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise BundleError(f"{path}: `temperature` must be a finite number > 0, got {temperature!r}")
    return float(temperature)


def read_metadata(bundle_dir: Path) -> dict[str, Any]:
    path = Path(bundle_dir) / "metadata.json"
    metadata = read_json(path)
    if not isinstance(metadata, dict):
        raise BundleError(f"{path} must be a JSON object, got {type(metadata).__name__}")
    normalization = metadata.get("text_normalization")
    if normalization not in (None, NORMALIZATION):
        raise BundleError(
            f"{path}: text_normalization {normalization!r} is unknown to this version (it knows {NORMALIZATION!r}); "
            "upgrade withyou to serve this bundle"
        )
    return metadata


def refuse_pickles(bundle_dir: Path) -> None:
    """A bundle is data: a file in it that is a pickle (by name, or by the pickle protocol's opening bytes) makes
    the whole bundle refused, so a bundle from a registry can never be made to run code by whoever reads it next."""
    for path in sorted(Path(bundle_dir).iterdir()):
        if not path.is_file():
            continue
        with open(path, "rb") as handle:
            head = handle.read(2)
        if path.suffix.lower() in PICKLE_SUFFIXES or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
            raise BundleError(f"{path}: a pickle inside the bundle — refused: a bundle holds ONNX graphs, JSON and "
                              "numpy arrays only, never anything that runs code when read")


def stages_of(bundle_dir: Path, metadata: dict[str, Any]) -> list[str]:
    """metadata.json `stages` (absent: ["transformer"]); a listed linear stage must have its files."""
    stages = metadata.get("stages", ["transformer"])
    if not isinstance(stages, list) or "transformer" not in stages or not set(stages) <= {"transformer", "linear"}:
        raise BundleError(f"{Path(bundle_dir) / 'metadata.json'}: stages must list \"transformer\" and optionally "
                          f"\"linear\", got {stages!r}")
    missing = [name for name in STAGE_FILES if "linear" in stages and not (Path(bundle_dir) / name).is_file()]
    if missing:
        raise BundleError(f"bundle {bundle_dir} lists a linear stage but is missing {', '.join(missing)}")
    return stages


def read_bundle(bundle_dir: Path) -> BundleContents:
    """Check everything but the tokenizer and the graph (module docstring), in that order."""
    bundle_dir = Path(bundle_dir)
    check_bundle_dir(bundle_dir)
    refuse_pickles(bundle_dir)
    metadata = read_metadata(bundle_dir)
    stages = stages_of(bundle_dir, metadata)
    labels = read_labels(bundle_dir, metadata)
    thresholds = read_thresholds(bundle_dir)
    temperature = read_temperature(bundle_dir)
    encoding = None
    if "encoding" in metadata:
        try:
            encoding = EncodingSpec.from_json(metadata["encoding"])
        except (TypeError, ValueError) as exc:
            raise BundleError(f"{bundle_dir / 'metadata.json'}: {exc}") from None
    verified = verify_checksums(bundle_dir, metadata)
    normalize = metadata.get("text_normalization") == NORMALIZATION
    return BundleContents(labels, metadata, thresholds, temperature, normalize, encoding, verified, stages)
