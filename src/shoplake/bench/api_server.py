"""Servers for the API benchmark, each run as its own process by ``shoplake bench api``.

``python -m shoplake.bench.api_server bare --port P --valkey URL`` serves the floor: a FastAPI
app whose only endpoint reads a customer's precomputed list from valkey and returns it as is —
no authentication, no rate limit, no fallbacks. ``… shoplake --port P`` serves shoplake's own
app (``create_app``) for the data dir in the environment (``SHOPLAKE_*``). Both run on uvicorn
with one worker, uvloop and httptools, access log off.
"""

from __future__ import annotations

import argparse
from typing import Any

from shoplake.ml.realtime import CUSTOMER_RECS_PREFIX


def bare_app(valkey_url: str) -> Any:
    """The floor: one endpoint, one valkey GET, the stored bytes returned."""
    import valkey.asyncio as valkey_async
    from fastapi import FastAPI, Response

    app = FastAPI(title="bare valkey lookup")
    client = valkey_async.Redis.from_url(valkey_url)

    @app.get("/recommendations/{customer_number}")
    async def lookup(customer_number: int) -> Response:
        stored = await client.get(f"{CUSTOMER_RECS_PREFIX}{customer_number}")
        if stored is None:
            return Response(status_code=404)
        return Response(content=stored, media_type="application/json")

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("bare", "shoplake"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--valkey", help="valkey URL (bare)")
    args = parser.parse_args(argv)
    if args.kind == "bare":
        app = bare_app(args.valkey)
    else:
        from shoplake.config import load_settings
        from shoplake.serve.app import create_app

        app = create_app(load_settings())
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
