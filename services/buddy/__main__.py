"""Runs the buddy service: `python -m services.buddy`."""

from services.buddy.bootstrap import NAME, build
from services.kit.grpc.server import run

if __name__ == "__main__":
    run(build, name=NAME)
