"""`shoplake ui`: Dagster's web UI on 127.0.0.1 for the data dir's instance and graph."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from shoplake.services import PORT_REMEDY, ServiceError, check_port, stop_child

if TYPE_CHECKING:
    from shoplake.config import Settings

WORKSPACE_MODULE = "shoplake.orchestrate.workspace"
ENVIRONMENT_VARIABLE = "SHOPLAKE_ENVIRONMENT"  # read by the workspace module
HOST = "127.0.0.1"


def ui_command(port: int) -> list[str]:
    """The webserver command line, bound to loopback only."""
    return [
        sys.executable, "-m", "dagster_webserver",
        "-h", HOST, "-p", str(port), "-m", WORKSPACE_MODULE,
    ]  # fmt: skip


def start_ui(settings: Settings, port: int, environment: str) -> subprocess.Popen[bytes]:
    """Start the webserver as a child with default signal handlers; the caller stops it by PID."""
    from shoplake.config import child_environment
    from shoplake.orchestrate.instance import prepare_home
    from shoplake.services import child_setup

    prepare_home(settings.dagster_home)
    env = {
        **child_environment(settings),
        "DAGSTER_HOME": str(settings.dagster_home),
        ENVIRONMENT_VARIABLE: environment,
    }
    return subprocess.Popen(
        ui_command(port),
        env=env,
        preexec_fn=child_setup,  # noqa: PLW1509 - only resets signal state
    )


def serve_ui(settings: Settings, port: int, environment: str = "local") -> None:
    """Run the UI until Ctrl-C or SIGTERM, then stop the child (and only it).

    A taken port is a :class:`~shoplake.services.ServiceError` before anything starts; a
    webserver that dies on its own is one too, with its exit status.
    """

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    check_port(HOST, port, PORT_REMEDY)
    # Also when started in the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    process = start_ui(settings, port, environment)
    print(f"Dagster UI on http://{HOST}:{port} (run history in {settings.dagster_home})")
    try:
        status = process.wait()
    except KeyboardInterrupt:
        stop_child(process)
        return
    raise ServiceError(f"the Dagster webserver stopped with exit status {status}")
