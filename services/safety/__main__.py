"""Runs the safety service: `python -m services.safety`."""

from services.kit.grpc.server import run
from services.safety.bootstrap import NAME, build

if __name__ == "__main__":
    run(build, name=NAME)
