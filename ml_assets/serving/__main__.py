"""`python -m ml_assets.serving`: run the model server in the foreground (what `ml-assets serve` runs)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from ml_assets.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(prog="ml-assets serve")
    parser.add_argument("--host", default=settings.serving_host)
    parser.add_argument("--port", type=int, default=settings.serving_port)
    parser.add_argument("--model-name", default=settings.model_name)
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--tracking-uri", default=settings.mlflow_tracking_uri)
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="how often to check whether the alias moved")
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--pid-file", default=None)
    parser.add_argument("--threads", type=int, default=1, help="compute threads for prediction (default 1)")
    args = parser.parse_args(argv)

    import uvicorn
    from threadpoolctl import threadpool_limits

    # One worker, one compute thread: request batches are small, and idle OpenMP/BLAS threads
    # spinning on a second core only steal it from the event loop and the clients.
    threadpool_limits(args.threads)

    from ml_assets.serving.app import ServerConfig, create_app

    config = ServerConfig(
        tracking_uri=args.tracking_uri,
        model_name=args.model_name,
        alias=args.alias,
        poll_seconds=args.poll_seconds,
        max_rows=args.max_rows,
    )
    if args.pid_file:
        with open(args.pid_file, "w") as handle:
            handle.write(str(os.getpid()))
    print(f"serving {args.model_name}@{args.alias} on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
