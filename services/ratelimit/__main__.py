"""Runs the rate-limit service: `python -m services.ratelimit`."""

import sys

from services.kit.config import ConfigError
from services.kit.grpc.server import run
from services.ratelimit.bootstrap import NAME, build
from services.ratelimit.domain.errors import LimitsConfigError

if __name__ == "__main__":
    try:
        run(build, name=NAME)
    except (LimitsConfigError, ConfigError) as exc:
        print(f"{NAME}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
