"""A PostgreSQL server of one's own, from Debian's `postgresql` package: a cluster made with
its initdb in a temporary folder, started with its pg_ctl on a free 127.0.0.1 port (its
socket in the same folder), stopped and removed afterwards, with a check that no server
process is left; `new_database` hands out an empty database on it. The test session's
server (tests/support/postgres.py) and `ledger bench multi` are both this one.

initdb refuses to run as root: as root (CI), the server runs as the `postgres` system
user the package creates, and the folder is that user's. Durability is not what the
tests measure, so their server does not fsync; `ledger bench multi` starts a durable one
(`durable=True`: PostgreSQL's defaults, fsync and synchronous commits on), as the SQLite
store it is compared with is (synchronous=FULL). Nothing here kills the server itself."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ledger_api.chain.node import free_port

SUPERUSER = "postgres"


def server_bin() -> Path | None:
    """The folder of initdb, pg_ctl and postgres: Debian's newest, or the PATH's."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def why_unavailable() -> str | None:
    """Why this machine cannot run the session's server, or None when it can."""
    if server_bin() is None:
        return "PostgreSQL's server is not installed: apt-get install postgresql (`make test` does, when run as root)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root, where initdb refuses to run, and there is no `postgres` user to run it as"
    return None


class PostgresServer:
    """One cluster in a temporary folder; `new_database` hands out databases on it."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        bindir = server_bin()
        if bindir is None:
            raise RuntimeError(str(why_unavailable()))
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.pid: int | None = None
        self._databases = 0
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._owner = pwd.getpwnam(SUPERUSER)
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)

    def _run(self, program: str, *args: str) -> None:
        command: Sequence[str] = [str(self.bin / program), *args]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner.pw_name, "--", *command]
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{done.stdout}{done.stderr}{log}")

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        for attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            options = " ".join(
                (
                    f"-p {self.port}",
                    "-c listen_addresses=127.0.0.1",
                    f"-c unix_socket_directories={self.root}",
                    "-c max_connections=300",
                    "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                )
            )
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def stop(self) -> None:
        """Stops the server, waits until its process is gone, removes the folder."""
        pid_file = self.data / "postmaster.pid"
        pid = self.pid or (int(pid_file.read_text().split()[0]) if pid_file.exists() else None)
        try:
            if pid is not None:
                try:
                    self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
                finally:
                    _wait_gone(pid)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, hint: str) -> str:
        """A new empty database (named after `hint`, e.g. the test module), by its SQLAlchemy URL."""
        import psycopg  # the `postgres` extra: only what runs on PostgreSQL needs it

        self._databases += 1
        name = f"{re.sub(r'[^a-z0-9]+', '_', hint.lower()).strip('_')[-40:]}_{self._databases}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    """The server's process has ended; if not after `timeout`, it is killed and this fails:
    nothing leaves a server behind."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise RuntimeError(f"the PostgreSQL server (pid {pid}) was still running after it was stopped")


@contextmanager
def postgres_server(durable: bool = False) -> Iterator[PostgresServer]:
    server = PostgresServer(durable)
    try:
        yield server.start()
    finally:
        server.stop()
