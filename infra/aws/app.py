#!/usr/bin/env python3
"""The shoplake CDK app: ``python infra/aws/app.py [-c key=value ...]`` (``make synth``)
writes one CloudFormation template per stack to ``infra/aws/cdk.out/`` (or ``$CDK_OUTDIR``);
``cdk deploy --all`` from ``infra/aws`` deploys them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Node 20 (what these machines have) still runs CDK; jsii's banner about it is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shoplake_infra.app import build_app


def parse_context(argv: list[str]) -> dict[str, str]:
    """``-c key=value`` pairs, as the CDK CLI takes them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE",
        help="a context value (stream_name, shard_count, bucket_prefix, environment, ...)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    context = {}
    for pair in args.context:
        key, equals, value = pair.partition("=")
        if not equals:
            parser.error(f"-c {pair!r}: expected KEY=VALUE")
        context[key] = value
    return context


def main(argv: list[str] | None = None) -> None:
    context = parse_context(sys.argv[1:] if argv is None else argv)
    try:
        app = build_app(context)
    except ValueError as exc:  # a context value the app refuses: one line, naming the key
        sys.exit(f"error: {exc}")
    assembly = app.synth()
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {Path(assembly.directory) / stack.template_file}")


if __name__ == "__main__":
    main()
