"""`withyou data pull NAME`: download a dataset's files from their upstream URLs and verify their SHA-256.

Each file is streamed into a temporary file beside its destination while it is hashed; only a file whose hash
matches the one pinned in sources.toml is renamed into place (atomic on one filesystem), so the data directory
never holds a partial or corrupted file. A mismatch deletes the download and raises PullError naming the file,
the expected and the actual hash. A file already present with the right hash is not downloaded again.
Any URL urllib opens works (https://, file:// — the tests use file://).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.sources import CHUNK_BYTES, Source, SourceFile, load_sources, sha256_file
from withyou.paths import data_dir as default_data_dir
from withyou.records import DataError

TIMEOUT_S = 60


class PullError(DataError):
    """A download failed or did not match its pinned checksum."""


@dataclass(frozen=True)
class Pulled:
    path: Path
    sha256: str
    status: str  # downloaded | already present | downloaded (unpinned)


def download_verified(
    file: SourceFile,
    dest: Path,
    *,
    allow_unpinned: bool = False,
    on_bytes: Callable[[int, int | None], None] | None = None,
) -> Pulled:
    """Download `file.url` to `dest` through a temporary file; keep it only if its sha256 is the pinned one."""
    if not file.url:
        raise PullError(f"{dest.name}: no url in the sources table")
    if not file.sha256 and not allow_unpinned:
        raise PullError(
            f"{dest.name}: no sha256 pinned in the sources table, so a download cannot be verified; "
            "rerun with --allow-unpinned to download it and print its hash"
        )
    if file.sha256 and dest.is_file() and sha256_file(dest) == file.sha256:
        return Pulled(dest, file.sha256, "already present")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise PullError(f"cannot write into {dest.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        digest = stream_to(file.url, handle, on_bytes)
        if file.sha256 and digest != file.sha256:
            raise PullError(
                f"{dest.name}: checksum mismatch — expected sha256 {file.sha256}, got {digest} from {file.url}; "
                "the download was deleted"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Pulled(dest, digest, "downloaded" if file.sha256 else "downloaded (unpinned)")


def stream_to(url: str, handle: int, on_bytes: Callable[[int, int | None], None] | None) -> str:
    """Copy `url` into the open file descriptor `handle`, returning the sha256 of what was written."""
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            while chunk := response.read(CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
                if on_bytes:
                    on_bytes(len(chunk), total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PullError(f"download of {url} failed: {reason}") from None
    return digest.hexdigest()


def pull_dataset(
    name: str,
    data_dir: Path | str | None = None,
    sources_file: Path | str | None = None,
    *,
    allow_unpinned: bool = False,
    on_file: Callable[[SourceFile], Callable[[int, int | None], None] | None] | None = None,
) -> list[Pulled]:
    """Download every file of dataset `name` into its folder under the data directory."""
    sources = load_sources(sources_file)
    if name not in sources:
        raise PullError(f"unknown dataset {name!r}; known: {', '.join(sources)}")
    source: Source = sources[name]
    folder = source.folder_in(default_data_dir(data_dir))
    pulled = []
    for file in source.files:
        on_bytes = on_file(file) if on_file else None
        pulled.append(download_verified(file, folder / file.path, allow_unpinned=allow_unpinned, on_bytes=on_bytes))
    return pulled
