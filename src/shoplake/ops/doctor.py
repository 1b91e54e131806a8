"""The doctor's framework: layers in order, results, stop at the first failing layer.

A :class:`Probe` answers one method per layer — :data:`LAYERS`, from name resolution to
latency. A method returns a detail (or a :class:`Measured` detail with its figure), raises
:class:`Skipped` when the layer does not apply, or :class:`Failed` with the problem and the
fix. :func:`diagnose` runs each probe's layers in order, stops at the first failure and
returns one :class:`EndpointReport` per endpoint; endpoints are probed concurrently.

A local server shoplake starts on demand (its API, the supplier simulator, the embedded valkey)
may simply not be running: a probe that knows the command starting it reports that, with the
command, instead of failing — unless the caller asks for that endpoint by name.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from shoplake.redact import redact

if TYPE_CHECKING:
    from shoplake.config import Settings

Layer = Literal["config", "dns", "tcp", "tls", "auth", "permission", "latency"]
LayerStatus = Literal["ok", "fail", "skipped"]
EndpointStatus = Literal["ok", "fail", "not running"]
LAYERS: tuple[Layer, ...] = ("dns", "tcp", "tls", "auth", "permission", "latency")
#: Checked before the layers; reported only when the endpoint's settings are unusable.
CONFIG: Layer = "config"
_log = logging.getLogger(__name__)


class Skipped(Exception):  # noqa: N818 - an outcome, not an error
    """The layer does not apply to this endpoint; the message says why."""


class Failed(Exception):  # noqa: N818 - an outcome, not an error
    """The layer fails: what is wrong and how to fix it, one line each (and a figure)."""

    def __init__(self, problem: str, fix: str, ms: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.ms = ms


class NotListening(Failed):
    """Nothing listens where the endpoint should be: its server is not running."""


@dataclass(frozen=True)
class Measured:
    """A layer's detail with the figure it measured (milliseconds)."""

    detail: str
    ms: float


@dataclass(frozen=True)
class Limits:
    """How long a probe may wait, how many round trips it times, and what counts as slow."""

    timeout: float = 3.0
    samples: int = 3
    slow_ms: float = 500.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        doctor = settings.doctor
        return cls(doctor.timeout_seconds, doctor.latency_samples, doctor.slow_ms)

    def latency(self, call: Callable[[], object], what: str, fix: str) -> Measured:
        """Time ``samples`` calls; above ``slow_ms`` the latency layer fails with the figure."""
        return check_latency(call, what, self.samples, self.slow_ms, fix)


@dataclass(frozen=True)
class LayerResult:
    """The outcome of one layer of one endpoint."""

    layer: Layer
    status: LayerStatus
    detail: str
    ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        ms = None if self.ms is None else round(self.ms, 1)
        return {"layer": self.layer, "status": self.status, "detail": self.detail, "ms": ms}


@dataclass(frozen=True)
class EndpointReport:
    """What the doctor found about one endpoint."""

    endpoint: str
    target: str
    layers: tuple[LayerResult, ...]
    problem: str | None = None
    fix: str | None = None
    warning: str | None = None
    #: The command that starts the endpoint, when it is an on-demand server not running.
    start: str | None = None

    @property
    def ok(self) -> bool:
        """Not failing: passing, or an on-demand server that is not running."""
        return self.problem is None

    @property
    def status(self) -> EndpointStatus:
        if not self.ok:
            return "fail"
        return "ok" if self.start is None else "not running"

    @property
    def failed_layer(self) -> Layer | None:
        return next((r.layer for r in self.layers if r.status == "fail"), None)

    @property
    def latency_ms(self) -> float | None:
        return next((r.ms for r in self.layers if r.layer == "latency"), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``shoplake doctor --output json``."""
        return {
            "endpoint": self.endpoint,
            "target": self.target,
            "status": self.status,
            "layers": [r.to_dict() for r in self.layers],
            "failed_layer": self.failed_layer,
            "problem": self.problem,
            "fix": self.fix,
            "warning": self.warning,
            "start": self.start,
        }


class Probe:
    """One endpoint's checks, one method per layer; by default a layer does not apply.

    ``name`` is the endpoint's name, ``target`` what it points at (masked before display).
    Subclasses override the layers that apply and may keep state between them (a connection
    opened by ``auth`` serves ``permission`` and ``latency``); :meth:`close` releases it.
    ``warning`` notes something a passing endpoint should still look at. ``on_demand`` is the
    command that starts the endpoint when it is a local server run only when needed: then a
    :class:`NotListening` failure reports it as not running instead of failing.
    """

    def __init__(self, name: str, target: str) -> None:
        self.name = name
        self.target = target
        self.warning: str | None = None
        self.config_error: Failed | None = None
        self.on_demand: str | None = None

    def dns(self) -> str | Measured:
        """Resolve the endpoint's host name."""
        raise Skipped("does not apply")

    def tcp(self) -> str | Measured:
        """Connect to the endpoint's port or socket."""
        raise Skipped("does not apply")

    def tls(self) -> str | Measured:
        """Complete a TLS handshake, when TLS is requested."""
        raise Skipped("does not apply")

    def auth(self) -> str | Measured:
        """Present the configured credentials."""
        raise Skipped("does not apply")

    def permission(self) -> str | Measured:
        """A harmless read and, where allowed, write."""
        raise Skipped("does not apply")

    def latency(self) -> str | Measured:
        """Median round trip of cheap calls."""
        raise Skipped("does not apply")

    def close(self) -> None:
        """Release whatever the layers opened."""


def run_probe(probe: Probe) -> EndpointReport:
    """Run a probe's layers in order; stop at the first failing one, or at an on-demand
    server found not running."""
    results: list[LayerResult] = []
    problem = fix = start = None
    if probe.config_error is not None:
        problem, fix = probe.config_error.problem, probe.config_error.fix
        results.append(LayerResult(CONFIG, "fail", redact(problem)))
    try:
        for layer in LAYERS if problem is None else ():
            result, failure = _run_layer(probe, layer)
            if isinstance(failure, NotListening) and probe.on_demand:
                start = probe.on_demand
                results.append(
                    replace(result, status="skipped", detail=f"not running: {result.detail}")
                )
                break
            results.append(result)
            if failure is not None:
                problem, fix = redact(failure.problem), redact(failure.fix)
                break
    finally:
        probe.close()
    return EndpointReport(
        endpoint=probe.name,
        target=redact(probe.target),
        layers=tuple(results),
        problem=problem,
        fix=fix,
        warning=probe.warning if problem is None and start is None else None,
        start=start,
    )


def _run_layer(probe: Probe, layer: Layer) -> tuple[LayerResult, Failed | None]:
    check: Callable[[], str | Measured] = getattr(probe, layer)
    started = time.perf_counter()
    try:
        outcome = check()
    except Skipped as skipped:
        return LayerResult(layer, "skipped", str(skipped)), None
    except Failed as failed:
        elapsed = (time.perf_counter() - started) * 1000
        ms = elapsed if failed.ms is None else failed.ms
        return LayerResult(layer, "fail", redact(failed.problem), ms), failed
    except Exception as exc:  # a probe's own bug or an error nobody classified yet
        _log.info("%s: %s layer", probe.name, layer, exc_info=True)
        reason = redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
        surprise = Failed(
            f"{layer} check failed unexpectedly: {reason}",
            "rerun with -v for the traceback; report it if the cause is not clear",
        )
        return LayerResult(layer, "fail", surprise.problem), surprise
    elapsed = (time.perf_counter() - started) * 1000
    if isinstance(outcome, Measured):
        return LayerResult(layer, "ok", outcome.detail, outcome.ms), None
    return LayerResult(layer, "ok", outcome, elapsed), None


def misconfigured(name: str, target: str, problem: str, fix: str) -> Probe:
    """An endpoint whose settings are unusable: it fails before any layer is tried."""
    probe = Probe(name, target)
    probe.config_error = Failed(problem, fix)
    return probe


def diagnose(probes: Sequence[Probe]) -> list[EndpointReport]:
    """Every probe's report, in the order given; endpoints are probed concurrently."""
    if not probes:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(probes)), thread_name_prefix="doctor") as pool:
        return list(pool.map(run_probe, probes))


def format_ms(ms: float) -> str:
    """Milliseconds for people: one decimal below 10 ms."""
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def median_ms(call: Callable[[], object], samples: int) -> float:
    """Median wall time of ``samples`` calls of ``call``, in milliseconds."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def check_latency(
    call: Callable[[], object], what: str, samples: int, slow_ms: float, fix: str
) -> Measured:
    """Time ``samples`` calls; above ``slow_ms`` the latency layer fails naming the figure."""
    median = median_ms(call, samples)
    detail = f"median {format_ms(median)} over {samples} × {what}"
    if median > slow_ms:
        raise Failed(f"slow: {detail}, above doctor.slow_ms {slow_ms:g} ms", fix, median)
    return Measured(detail, median)
