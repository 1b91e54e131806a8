"""Streaming commands: local services (up/down/status) and the clickstream pipeline."""

from __future__ import annotations

from typing import Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json, out, plural, print_table, say
from shoplake.errors import ConfigError

stream_app = typer.Typer(
    help="The clickstream: produce events, process them, watch the lag.", no_args_is_help=True
)

Output = Annotated[str, typer.Option(help="text or json.")]


def up(ctx: typer.Context, output: Output = "text") -> None:
    """Start the local servers (valkey) under the data dir, by PID; running ones are left alone."""
    _print_services([s.to_dict() for s in platform(ctx).up()], output)


def down(ctx: typer.Context) -> None:
    """Stop the local servers started by `shoplake up`."""
    stopped = platform(ctx).down()
    say("stopped valkey" if stopped[0] else "valkey was not running")


def status(ctx: typer.Context, output: Output = "text") -> None:
    """Health of the local servers: running, pid, port, uptime, memory, keys."""
    _print_services([s.to_dict() for s in platform(ctx).services()], output)


def _print_services(services: list[dict[str, object]], output: str) -> None:
    if output == "json":
        emit_json(services)
        return
    print_table(services, ["name", "running", "pid", "port", "uptime_seconds", "keys", "data_dir"])


@stream_app.command("produce")
def produce(
    ctx: typer.Context,
    events: Annotated[
        int | None, typer.Option(min=1, help="Send this many events, as fast as possible.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.1, help="Events per second (with --duration).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds to produce at --rate.")
    ] = None,
    bad_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of malformed events.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated sessions.")] = 1,
) -> None:
    """Send simulated shoppers' sessions (views → cart → purchase, searches, bots) to the log."""
    stats = platform(ctx).produce(
        events=events, rate=rate, duration=duration, bad_rate=bad_rate, seed=seed
    )
    produced = plural(stats.events, "event")
    say(f"produced {produced} in {stats.seconds:.2f} s ({stats.rate:,.0f}/s)")


def _parse_worker(value: str | None) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    index, _, total = value.partition("/")
    if not (index.isdigit() and total.isdigit() and int(index) < int(total)):
        raise ConfigError(f"--worker takes I/N with 0 <= I < N, got {value!r}")
    return int(index), int(total)


@stream_app.command("process")
def process(
    ctx: typer.Context,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop when the log is drained.")
    ] = False,
    max_events: Annotated[
        int | None, typer.Option(min=1, help="Stop after reading this many.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes sharing the shards.")] = 1,
    worker: Annotated[
        str | None, typer.Option(help="Run only worker I of N (I/N), e.g. on another machine.")
    ] = None,
    output: Output = "text",
) -> None:
    """Validate, de-duplicate and commit events to bronze.events in micro-batches, exactly once.

    Malformed events go to bronze.dead_letters with the reason. Shard positions are committed
    with the rows, so a killed processor resumes where its data stops. Session state is
    updated in the online store as events arrive.
    """
    from shoplake.ingest.stream_workers import stats_json

    index, total = _parse_worker(worker)
    stats = platform(ctx).process(
        workers=total or workers, worker=index, until_idle=until_idle, max_events=max_events
    )
    if output == "json":
        print(stats_json(stats))
        return
    say(
        f"read {stats.read:,}: {plural(stats.valid, 'event')}, "
        f"{plural(stats.invalid, 'dead letter')}, {plural(stats.duplicates, 'duplicate')} "
        f"dropped, {plural(stats.commits, 'commit')} in {stats.seconds:.1f} s"
    )


@stream_app.command("status")
def stream_status(ctx: typer.Context, output: Output = "text") -> None:
    """Per-shard committed positions and lag, events/s, dead letters, last commit.

    Starts nothing: when the event log is not running, the lakehouse side is shown (lag
    unknown) with a line saying how to start it.
    """
    info = platform(ctx).stream_status()
    if output == "json":
        emit_json(info.as_dict())
        return
    print_table(info.shards, ["shard", "events_position", "dead_letters_position", "lag"])
    out.print(
        f"{plural(info.events, 'event')}, {plural(info.dead_letters, 'dead letter')}, last commit "
        f"{info.last_commit or 'never'}, {info.events_per_second:,.1f} events/s recently"
    )
    if info.note:
        out.print(f"event log: {info.note} (lag unknown)")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="services")(up)
    app.command(rich_help_panel="services")(down)
    app.command(rich_help_panel="services")(status)
    app.add_typer(stream_app, name="stream", rich_help_panel="2 · ingest")
