"""Kubernetes exec probe of a mesh service: grpc.health.v1 Check over mTLS with the pod's own certificate.

    python -m services.cli.deploy.probe --port 50052 --service teei.profile.v1.ProfileService \
        --identity profile --mtls-dir /etc/teei/mtls

Exits 0 when the service answers SERVING, 1 otherwise (kubelet's own gRPC probe cannot present a certificate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.cli import probes
from services.kit.security import mtls


def main(argv: list[str] | None = None) -> int:
    """Probes once; the exit status is the verdict."""
    parser = argparse.ArgumentParser(prog="probe", description="gRPC health over mTLS, for kubelet exec probes")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--service", required=True, help="grpc.health.v1 service name")
    parser.add_argument("--identity", required=True, help="whose certificate to present (the pod's own)")
    parser.add_argument("--mtls-dir", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args(argv)
    try:
        credentials = mtls.channel_credentials(args.mtls_dir, args.identity)
    except (OSError, ValueError) as exc:
        print(f"probe: cannot read the certificate of {args.identity}: {exc}", file=sys.stderr)
        return 1
    target = f"127.0.0.1:{args.port}"
    serving = probes.grpc_serving(target, args.service, timeout=args.timeout, credentials=credentials)
    if not serving:
        print(f"probe: {args.service} at {target} is not SERVING", file=sys.stderr)
    return 0 if serving else 1


if __name__ == "__main__":
    raise SystemExit(main())
