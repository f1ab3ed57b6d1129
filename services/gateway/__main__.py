"""Runs the gateway service: `python -m services.gateway`."""

from services.gateway.bootstrap import NAME, build
from services.kit.grpc.server import run

if __name__ == "__main__":
    run(build, name=NAME)
