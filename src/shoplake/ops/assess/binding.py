"""Security: servers reachable beyond this machine — the configured API bind address, and the
listening sockets of shoplake's own running servers (found by their PID files, via /proc)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.services import is_loopback

if TYPE_CHECKING:
    from shoplake.config import Settings
    from shoplake.ops.assess.model import Recorder

LISTEN = "0A"  # TCP state of a listening socket in /proc/net/tcp
WILDCARDS = {"0.0.0.0", "::", ""}


def check_binding(settings: Settings, rec: Recorder) -> None:
    """``serve.host`` beyond loopback, and any non-loopback listener of a running server."""
    host, port = settings.serve.host, settings.serve.port
    if host in WILDCARDS:
        rec.finding(
            "api-bound-all-interfaces",
            "high",
            f"the API is configured to listen on every interface ({host}:{port})",
            {"serve.host": host, "serve.port": port},
            "set serve.host = '127.0.0.1' and put a TLS reverse proxy in front when exposing it",
        )
    elif not is_loopback(host):
        rec.finding(
            "api-bound-beyond-loopback",
            "medium",
            f"the API is configured to listen on a non-loopback address ({host}:{port})",
            {"serve.host": host, "serve.port": port},
            "set serve.host = '127.0.0.1' unless this interface is meant to be reachable, "
            "behind TLS",
        )
    else:
        rec.passed("api bind address", f"serve.host = {host} (loopback)")
    _check_running_servers(settings, rec)


def _check_running_servers(settings: Settings, rec: Recorder) -> None:
    from shoplake.services import valkey_dir

    pid_file = valkey_dir(settings) / "valkey.pid"
    pid = _read_pid(pid_file)
    if pid is None:
        return
    sockets = listening(pid)
    exposed = [f"{a}:{p}" for a, p in sockets if not is_loopback(a)]
    if exposed:
        rec.finding(
            "server-listening-beyond-loopback",
            "high",
            f"the local valkey (pid {pid}) listens beyond loopback",
            {"pid_file": str(pid_file), "pid": pid, "listening": exposed},
            "restart it with `shoplake down && shoplake up` (shoplake binds valkey to 127.0.0.1)",
        )
    else:
        bound = ", ".join(f"{a}:{p}" for a, p in sockets) or "nothing readable"
        rec.passed("running servers", f"valkey (pid {pid}) listens on {bound}: loopback only")


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def listening(pid: int) -> list[tuple[str, int]]:
    """``(address, port)`` of the TCP sockets ``pid`` listens on (none without /proc)."""
    inodes = _socket_inodes(pid)
    if not inodes:
        return []
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                found.append(_address(fields[1], family))
    return found


def _socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets among ``pid``'s open files (descriptors may close meanwhile)."""
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()
    inodes = set()
    for fd in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(field: str, family: int) -> tuple[str, int]:
    """Decode ``0100007F:1F90`` (kernel byte order per 32-bit word) to ``("127.0.0.1", 8080)``."""
    hex_address, hex_port = field.split(":")
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, words), int(hex_port, 16)
