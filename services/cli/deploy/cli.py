"""`teei deploy render`: writes (or with --check, verifies) deploy/k8s/ from tilt.yaml and the trust policy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from services.cli import spec
from services.cli.deploy import render
from services.cli.deploy.topology import DeployError, Options
from services.kit.security import trust_policy


def register(subparsers: Any) -> None:
    """Adds the `deploy` command group to the `teei` parser."""
    deploy = subparsers.add_parser("deploy", help="Kubernetes manifests generated from tilt.yaml")
    commands = deploy.add_subparsers(dest="deploy_command", required=True)
    parser: argparse.ArgumentParser = commands.add_parser(
        "render", help="write deploy/k8s/base and overlays (dev, prod) from tilt.yaml and the trust policy"
    )
    parser.add_argument("--spec", type=Path, default=spec.DEFAULT_SPEC, help="resource list (tilt.yaml)")
    parser.add_argument("--policy", type=Path, default=trust_policy.DEFAULT_POLICY, help="mTLS trust policy")
    parser.add_argument("--out", type=Path, default=render.DEPLOY_DIR, help="folder of base/ and overlays/")
    parser.add_argument("--namespace", default=Options.namespace)
    parser.add_argument("--issuer", default=Options.issuer, help="access-token issuer the edge and services accept")
    parser.add_argument("--audience", default=Options.audience, help="access-token audience")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the files are stale")
    parser.set_defaults(run=run_render)


def run_render(args: argparse.Namespace) -> int:
    """Renders; with --check lists what differs instead of writing."""
    options = Options(namespace=args.namespace, issuer=args.issuer, audience=args.audience)
    try:
        tree = render.files(render.load_topology(args.spec, args.policy, options))
    except (spec.SpecError, trust_policy.PolicyError, DeployError) as exc:
        print(f"teei deploy render: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = render.differences(tree, args.out)
        for path in stale:
            print(f"teei deploy render: stale {args.out / path}", file=sys.stderr)
        if stale:
            print("teei deploy render: run `teei deploy render` and commit deploy/k8s", file=sys.stderr)
        return 1 if stale else 0
    written = render.write(tree, args.out)
    print(f"teei deploy render: {len(written)} files under {args.out}")
    return 0
