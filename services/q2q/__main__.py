"""Runs the q2q service: `python -m services.q2q`."""

from services.kit.grpc.server import run
from services.q2q.bootstrap import NAME, build

if __name__ == "__main__":
    run(build, name=NAME)
