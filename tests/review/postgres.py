"""A real, throw-away PostgreSQL server for the review-store tests: initdb + pg_ctl in a temporary directory.

The binaries come from PATH or Debian's /usr/lib/postgresql/<version>/bin (scripts/setup-postgres.sh installs
them on a machine without). PostgreSQL refuses to run as root, and CI runs as root: then every server command
runs as the `postgres` system user (or `nobody`) through subprocess's user/group switch, in a directory under the
system temporary folder that this user owns (pytest's own tmp folder is private to root).

The server listens on 127.0.0.1 only, on a free port, with trust authentication for the one superuser `withyou`;
fsync stays on so a `kill -9` test sees what a crash would keep.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from serving.process import free_port

SUPERUSER = "withyou"
START_TIMEOUT_S = 60


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl (PATH first, then the newest /usr/lib/postgresql/*/bin), or None."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).parent] if on_path else []
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += [Path(p) for p in versions]
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def server_account() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root (PostgreSQL refuses root); None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


def living_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that are not zombies (a zombie waits for whoever reaps it, and holds nothing)."""
    living = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            living.append(int(Path(stat).parent.name))
    return living


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.account = server_account()
        self.root = Path(tempfile.mkdtemp(prefix="withyou-pg-"))
        if self.account:
            os.chown(self.root, *self.account)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()

    def run(self, *command: str, timeout_s: float = START_TIMEOUT_S) -> subprocess.CompletedProcess:
        user = {"user": self.account[0], "group": self.account[1], "extra_groups": []} if self.account else {}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        done = subprocess.run(
            [str(self.bin_dir / command[0]), *command[1:]], cwd=self.root, env=env, capture_output=True, text=True,
            timeout=timeout_s, **user,
        )  # fmt: skip
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}\n{log}")
        return done

    def init(self) -> "PostgresServer":
        self.run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C",
                 "--no-sync", "--no-instructions")  # fmt: skip
        return self.start()

    def start(self) -> "PostgresServer":
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c max_connections=40"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def kill9(self) -> None:
        """SIGKILL the postmaster and every backend at once (pg_ctl makes the postmaster a process-group leader)."""
        pid = self.postmaster_pid()
        if os.getpgid(pid) != pid:
            raise RuntimeError(f"postmaster {pid} does not lead its process group; cannot kill the whole server")
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while living_members(pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL processes of group {pid} still alive 10 s after SIGKILL")
            time.sleep(0.02)
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            try:
                os.waitpid(pid, os.WNOHANG)  # the orphaned postmaster is pytest's child (tests/conftest.py: adopt_orphans)
            except ChildProcessError:
                pass
            time.sleep(0.02)
        # The dead postmaster is a zombie nobody reaps (a container's PID 1 may not), and the next postmaster
        # would take its pid for a running server. Nothing of it is alive, so its lock file is stale: remove it.
        (self.data / "postmaster.pid").unlink()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout_s=30)
            except (RuntimeError, subprocess.TimeoutExpired):
                self.kill9()
        shutil.rmtree(self.root, ignore_errors=True)
