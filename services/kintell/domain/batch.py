"""What importing a file does to the stored sessions, decided before anything is written.

Session ids already stored (from an earlier file or a webhook) are absorbed, not duplicated:
an identical row is a no-op counted as stored, a changed row updates the stored session, and an
event is emitted only for news (a first sighting, or a scheduled session now completed). A row
whose session id is stored with the other session type is quarantined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from services.kintell.domain.errors import SessionTypeConflict
from services.kintell.domain.events import SessionCompleted, SessionScheduled, first_sighting
from services.kintell.domain.model import Change, Session, SessionFacts
from services.kit.connectors.csvimport import RowError
from services.kit.connectors.model import Provenance


@dataclass
class ImportPlan:
    """Sessions to insert and update, rows to quarantine, and which sessions are news."""

    created: list[Session] = field(default_factory=list)
    updated: list[Session] = field(default_factory=list)
    unchanged: int = 0
    conflicts: list[RowError] = field(default_factory=list)
    newly_completed: set[str] = field(default_factory=set)

    @property
    def stored(self) -> int:
        """Rows that now match a stored session (inserted, updated or already identical)."""
        return len(self.created) + len(self.updated) + self.unchanged

    def news(self) -> Iterable[SessionScheduled | SessionCompleted]:
        """The events of this import: every first sighting, and every scheduled session now completed."""
        yield from (first_sighting(session) for session in self.created)
        yield from (SessionCompleted(s) for s in self.updated if s.session_id in self.newly_completed)

    def from_batch(self, batch_id: str) -> ImportPlan:
        """The same plan with the batch id in every written session's provenance."""

        # One stamped provenance per distinct one (an import's sessions share theirs); built directly,
        # as `dataclasses.replace` per session was a visible part of a large import.
        stamps: dict[Provenance, Provenance] = {}

        def stamped(session: Session) -> Session:
            origin = session.provenance
            into = stamps.get(origin)
            if into is None:
                into = stamps[origin] = origin.in_batch(batch_id)
            return Session(
                session.session_id, session.company_id, session.facts, into, session.created_at, session.updated_at
            )

        return replace(self, created=[stamped(s) for s in self.created], updated=[stamped(s) for s in self.updated])


def plan_import(
    *,
    company_id: str,
    rows: Iterable[tuple[int, SessionFacts]],
    stored: Mapping[str, Session],
    provenance: Provenance,
) -> ImportPlan:
    """Decides, row by row, whether a session is new, changed, identical or conflicting."""
    plan = ImportPlan()
    for number, facts in rows:
        existing = stored.get(facts.external_session_id)
        if existing is None:
            plan.created.append(Session.first_report(company_id=company_id, facts=facts, provenance=provenance))
            continue
        try:
            session, change = existing.absorb(facts, provenance)
        except SessionTypeConflict as exc:
            plan.conflicts.append(RowError(number, "session_id", exc.message, facts.external_session_id))
            continue
        if change is Change.UNCHANGED:
            plan.unchanged += 1
            continue
        plan.updated.append(session)
        if change is Change.COMPLETED:
            plan.newly_completed.add(session.session_id)
    return plan
