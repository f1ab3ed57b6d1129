"""What sealing personal fields costs the profile service: `python -m tests.load.pii_bench` times profile
creates (with an external id) and reads through the handlers and queries, in one run, with the real
cipher and with a pass-through one (seal and open return the value; the blind index is the value), on
the same kind of SQLite database. The pass-through exists only here, as the measurement's baseline."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from services.kit.persistence import db
from services.kit.security import pii
from services.profile import bootstrap, handlers, queries
from services.profile.domain.commands import CreateProfile, GetProfile, LinkExternalId, ListProfiles
from services.profile.domain.model import PersonRole, Provider
from services.profile.repository import SqlProfileUnitOfWork


class PassThrough(pii.PiiCipher):
    """The baseline: the cipher's interface without encryption or keys."""

    def seal(
        self, value: str, *, company_id: str, subject: str, field: str, record: str, keys: pii.Keys | None = None
    ) -> str:
        return value

    def open(self, stored: str, *, field: str, record: str) -> str:
        return stored

    def blind(self, company_id: str, kind: str, value: str) -> str:
        return value


def _timed(n: int, step: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for i in range(n):
        step(i)
    return n / (time.perf_counter() - started)


def measure(folder: Path, cipher: pii.PiiCipher, n: int) -> dict[str, float]:
    """Creates, reads by id and looks up by e-mail `n` profiles; operations per second of each."""
    url = db.sqlite_url(folder / "profile.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    uow = SqlProfileUnitOfWork(db.UnitOfWork(engine))
    ids: list[str] = []

    def create(i: int) -> None:
        made = handlers.create_profile(
            CreateProfile("acme", f"person{i}@example.org", "Given", "Family", PersonRole.PARTICIPANT), uow=uow
        )
        handlers.link_external_id(LinkExternalId("acme", made.profile_id, Provider.KINTELL, f"kin-{i}"), uow=uow)
        ids.append(made.profile_id)

    def find(email: str) -> object:
        return queries.list_profiles(ListProfiles("acme", email, 1, ""), uow=uow)

    try:
        return {
            "create_with_identity_per_s": round(_timed(n, create), 1),
            "get_per_s": round(_timed(n, lambda i: queries.get_profile(GetProfile("acme", ids[i]), uow=uow)), 1),
            "find_by_email_per_s": round(
                _timed(
                    n, lambda i: queries.list_profiles(ListProfiles("acme", f"person{i}@example.org", 1, ""), uow=uow)
                ),
                1,
            ),
        }
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="alternating plain/sealed rounds (noise shows)")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"plain": [], "sealed": []}
    for _ in range(args.rounds):
        for mode in ("plain", "sealed"):
            with tempfile.TemporaryDirectory(prefix=f"pii-bench-{mode}-") as folder:
                real = pii.local(Path(folder), "profile")
                cipher = PassThrough(real.keys) if mode == "plain" else real
                results[mode].append(measure(Path(folder), cipher, args.profiles))
                real.close()
    best = {mode: {k: max(r[k] for r in runs) for k in runs[0]} for mode, runs in results.items()}
    ratios = {k: round(best["sealed"][k] / best["plain"][k], 3) for k in best["plain"]}
    print(json.dumps({"profiles": args.profiles, "runs": results, "best": best, "sealed_over_plain": ratios}, indent=2))


if __name__ == "__main__":
    main()
