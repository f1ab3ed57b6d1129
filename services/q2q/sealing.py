"""Q2Q's personal free text at rest, sealed with the data key of the person it comes from (subject = the
row's `profile_id`; services/kit/connectors/sealing.py's mechanics):

- `q2q_scores.note` (a manual score's note about the person) with the scored person's key, bound to the
  score id. `recorded_by` stays plain: it names the staff member or client who recorded the score, not
  the data subject.
- `q2q_pending_texts.text` (a text held until Safety passes it) with its author's key, bound to the
  source id (a text is written back by the row's whole key).
- `q2q_evidence.snippet` (a span of the person's text behind a score) with the key of the person whose
  scores link it, bound to the snippet's hash.

Evidence used to be content-addressed per company: one row per (label, snippet), linked from every score
whose text held the same words, whoever wrote them. Sealed with one person's key, erasing that person
would destroy the others' evidence; sealed with no one's, erasing nobody would. So a snippet is now stored
once per person: `q2q_evidence.profile_id` names them, and the hash covers the profile id as well as the
label and the words. The hash is a blind index (HMAC with the keyring's index key), no longer a plain
SHA-256, so a stolen database cannot test a guessed snippet against it. Rows written before (no profile
id) are split by the online migration: one sealed row per person among the scores linking the snippet,
the links moved onto it, the shared row deleted (a shared row no score links any more names no one and
goes too). Unsealing writes the per-person rows back in plain text; it does not merge them again.

Erasing a person shreds their key: their notes, held texts and snippets no longer open anywhere, in the
live database and in any copy of it. Reads open both forms while older rows are sealed in the background.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.connectors.sealing import BATCH, Row, SealedTable, seal_all, unseal_all
from services.kit.security.pii import PiiCipher
from services.q2q.tables import evidence, pending, score_evidence, scores

# The kind of blind index an evidence snippet's hash is.
EVIDENCE_KIND = "q2q.evidence"
SNIPPET_FIELD = f"{evidence.name}.snippet"

SCORES = SealedTable.of(scores, record="score_id", texts={"note": "profile_id"})
# A held text's source id is unique only with its company and type: rows are written back by their key.
PENDING = SealedTable.of(
    pending, record="source_id", texts={"text": "profile_id"}, key=tuple(c.name for c in pending.primary_key)
)
# Snippets of one person; the shared rows from before (no profile id) are `split_shared`'s.
EVIDENCE = SealedTable.of(
    evidence,
    record="evidence_hash",
    texts={"snippet": "profile_id"},
    key=("company_id", "evidence_hash"),
    scope=evidence.c.profile_id.is_not(None),
)
TABLES: tuple[SealedTable, ...] = (SCORES, PENDING, EVIDENCE)


def evidence_hash(cipher: PiiCipher, company_id: str, profile_id: str, label: str, snippet: str) -> str:
    """The identity of one person's evidence snippet: a blind index of the person, the label and the words."""
    return cipher.blind(company_id, EVIDENCE_KIND, "\x1f".join((profile_id, label, snippet)))


def open_snippet(cipher: PiiCipher, snippet: str, digest: str) -> str:
    """A stored snippet opened (a plain one, from before sealing, as it is)."""
    return cipher.open(snippet, field=SNIPPET_FIELD, record=digest)


def split_shared(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Up to `batch` shared snippets from before sealing replaced by one sealed row per person whose scores
    link them, the links moved; the number of shared rows replaced."""
    shared = session.execute(
        sa.select(evidence).where(evidence.c.profile_id.is_(None)).limit(batch)
    ).mappings().all()  # fmt: skip
    for row in shared:
        company, old = row["company_id"], row["evidence_hash"]
        link = score_evidence.c
        owners = session.execute(
            sa.select(scores.c.profile_id)
            .join(score_evidence, link.score_id == scores.c.score_id)
            .where(link.company_id == company, link.evidence_hash == old)
            .distinct()
        ).scalars().all()  # fmt: skip
        for owner in owners:
            digest = evidence_hash(cipher, company, owner, row["label"], row["snippet"])
            ensure_snippet(session, cipher, {**row, "evidence_hash": digest, "profile_id": owner})
            theirs = sa.select(scores.c.score_id).where(scores.c.company_id == company, scores.c.profile_id == owner)
            session.execute(
                score_evidence.update()
                .where(link.company_id == company, link.evidence_hash == old, link.score_id.in_(theirs))
                .values(evidence_hash=digest)
            )
        session.execute(evidence.delete().where(evidence.c.company_id == company, evidence.c.evidence_hash == old))
    return len(shared)


def seal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Seals up to `batch` rows still plain (shared snippets split first, then notes, held texts and
    snippets); the number of rows done."""
    done = split_shared(session, cipher, batch=batch)
    if done >= batch:
        return done
    return done + seal_all(TABLES, session, cipher, batch=batch - done)


def unseal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Writes up to `batch` sealed rows back in plain text (the rollback of sealing); the number changed."""
    return unseal_all(TABLES, session, cipher, batch=batch)


def ensure_snippet(session: orm.Session, cipher: PiiCipher, row: Row) -> None:
    """Stores one person's snippet (a q2q_evidence row with its profile id and hash), sealed with their
    key, unless they have it already."""
    key = (evidence.c.company_id == row["company_id"], evidence.c.evidence_hash == row["evidence_hash"])
    if session.execute(sa.select(evidence.c.evidence_hash).where(*key)).first() is None:
        session.execute(evidence.insert().values(**EVIDENCE.seal(session, cipher, row)))
