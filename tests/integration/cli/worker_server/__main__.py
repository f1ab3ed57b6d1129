"""Runs the worker-group tests' server: `python -m tests.integration.cli.worker_server`. A package's __main__
as the services' are: a worker group imports it once and forks its workers (services/cli/workers.py)."""

import asyncio
import os

import prometheus_client

from tests.integration.cli.worker_server.server import main

if __name__ == "__main__":
    if os.environ.get("TEEI_METRICS_PORT"):
        prometheus_client.start_http_server(int(os.environ["TEEI_METRICS_PORT"]), addr="127.0.0.1")
    raise SystemExit(asyncio.run(main()))
