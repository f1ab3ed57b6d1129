"""Runs the kintell service: `python -m services.kintell`."""

from services.kintell.bootstrap import NAME, build
from services.kit.grpc.server import run

if __name__ == "__main__":
    run(build, name=NAME)
