"""Safety's personal free text at rest: what a flag keeps of a person's text, and what a reviewer wrote
about it, sealed with that person's data key (services/kit/connectors/sealing.py's mechanics).

- `safety_flags.redacted_text` (the person's words, PII masked but the rest as written) and `findings`
  (the rules' verdicts and offsets into that text) are sealed with the key of the flag's `profile_id`
  (the author of the screened text), bound to `safety_flags.<column>` and the flag id. A text screened
  without a profile id is sealed with the company's key of no one (subject ""): no erasure names it, and
  retention deletes it with its flag.
- `safety_review_actions.notes` (a reviewer's words about the flagged text, which may quote it) are sealed
  with the key of the flagged person (the `profile_id` of the review's flag), bound to the action id.
- `safety_review_actions.reviewer` stays plain: reviewers are staff acting for the company, not the data
  subjects of the texts, and the review history names who decided (as the audit log does).

Erasing a person shreds their key: every flag of theirs, and every note about it, in the live database
and in any copy of it, no longer opens. Rows written before sealing keep their plain values until the
online migration seals them (`seal_batch`); reads open both forms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.connectors.sealing import BATCH, Row, SealedTable, seal_all, unseal_all
from services.kit.security.pii import PiiCipher
from services.safety.tables import flags, review_actions, reviews

FLAG_TEXTS = ("redacted_text", "findings")
# The extra columns an action's row carries while sealed or opened: its company, and whose key seals it.
FLAGGED = "flagged_profile_id"

FLAGS = SealedTable.of(flags, record="flag_id", texts=dict.fromkeys(FLAG_TEXTS, "profile_id"))


def _actions(session: orm.Session, where: sa.ColumnElement[bool], batch: int) -> Sequence[Row]:
    """Review decisions with their company and flagged person, found through the review's flag (an action
    row names neither)."""
    query = (
        sa.select(review_actions, reviews.c.company_id, flags.c.profile_id.label(FLAGGED))
        .join(reviews, reviews.c.review_id == review_actions.c.review_id)
        .join(flags, flags.c.flag_id == reviews.c.flag_id)
        .where(where)
        .limit(batch)
    )
    return session.execute(query).mappings().all()


# Review decisions: the notes sealed with the flagged person's key.
ACTIONS = SealedTable.of(review_actions, record="action_id", texts={"notes": FLAGGED}, reader=_actions)
TABLES: tuple[SealedTable, ...] = (FLAGS, ACTIONS)


def opened_flag(cipher: PiiCipher, row: Row, prefix: str = "") -> dict[str, Any]:
    """A flag's row (or the `prefix`-named flag columns of a joined row) with its texts opened."""
    record, opened = str(row[f"{prefix}flag_id"]), dict(row)
    for column in FLAG_TEXTS:
        if value := row[f"{prefix}{column}"]:
            opened[f"{prefix}{column}"] = cipher.open(value, field=f"{flags.name}.{column}", record=record)
    return opened


def sealed_action(
    session: orm.Session, cipher: PiiCipher, row: Mapping[str, Any], *, company_id: str, profile_id: str
) -> dict[str, Any]:
    """An action row (with its `action_id`) whose notes are sealed with the flagged person's key."""
    sealed = ACTIONS.seal(session, cipher, {**row, "company_id": company_id, FLAGGED: profile_id})
    return {k: v for k, v in sealed.items() if k not in ("company_id", FLAGGED)}


def seal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Seals up to `batch` rows still plain (flags, then review decisions); the number sealed."""
    return seal_all(TABLES, session, cipher, batch=batch)


def unseal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Writes up to `batch` sealed rows back in plain text (the rollback of sealing); the number changed."""
    return unseal_all(TABLES, session, cipher, batch=batch)
