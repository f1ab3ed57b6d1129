"""Runs the profile service: `python -m services.profile`."""

from services.kit.grpc.server import run
from services.profile.bootstrap import NAME, build

if __name__ == "__main__":
    run(build, name=NAME)
