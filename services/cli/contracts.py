"""REST contract gate: buf does not check `google.api.http` bindings, so a removed or changed
binding (method or path) between a baseline and the working tree fails here."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

from services.cli import openapi, openapi_schema

Bindings = dict[str, set[tuple[str, str]]]


def bindings(descriptor_set: Path) -> Bindings:
    """(verb, path) pairs bound to each RPC, by the RPC's full name."""
    pool, _ = openapi.load_pool(descriptor_set)
    names = [f.name for f in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file]
    found: Bindings = {}
    for service in openapi.teei_services(pool, names):
        for method in service.methods:
            rule = openapi_schema.http_rule(method)
            pairs = found.setdefault(method.full_name, set())
            for binding in () if rule is None else (rule, *rule.additional_bindings):
                verb = binding.WhichOneof("pattern")
                if verb and verb != "custom":
                    pairs.add((verb.upper(), getattr(binding, verb)))
    return found


def broken(baseline: Bindings, current: Bindings) -> list[str]:
    """Every baseline binding the current contracts no longer serve exactly."""
    problems = []
    for method, pairs in sorted(baseline.items()):
        for verb, path in sorted(pairs - current.get(method, set())):
            problems.append(f"{method}: {verb} {path} was removed or changed")
    return problems


def _build(input_ref: str, out: Path) -> Path:
    subprocess.run(["buf", "build", input_ref, "--as-file-descriptor-set", "-o", str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m services.cli.contracts --against '.git#ref=HEAD~1'`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", required=True, help="buf input of the baseline")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = bindings(_build(args.against, Path(tmp, "old.binpb")))
        current = bindings(_build(".", Path(tmp, "new.binpb")))
    problems = broken(baseline, current)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"REST bindings: {sum(map(len, baseline.values()))} checked, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
