"""Runs the upskilling service: `python -m services.upskilling`."""

from services.kit.grpc.server import run
from services.upskilling.bootstrap import NAME, build

if __name__ == "__main__":
    run(build, name=NAME)
