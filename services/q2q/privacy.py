"""Where Q2Q keeps people: classifications and scores derived from a person's texts, the evidence
linked to them, and texts waiting for screening.

Notes, held texts and snippets are sealed with the person's key (services/q2q/sealing.py): exports open
them, and erasure shreds that key before deleting the rows. A snippet belongs to one person since
revision 0006 (its `profile_id`): it is exported and erased as theirs, after their scores and the
links to it. Shared ones from before (no profile id, until the online migration splits them) go once
no other score links them."""

from __future__ import annotations

from services.kit.persistence.subjects import Child, Holding, Orphans, Person, Scrub, SubjectMap
from services.q2q.sealing import EVIDENCE, PENDING, SCORES
from services.q2q.tables import classifications, evidence, pending, score_evidence, scores

_AUTHOR = {"author": Person(profile_id="profile_id")}
_LINKS = Child(score_evidence, column="score_id", key="score_id")

MAP = SubjectMap(
    service="q2q",
    holdings=(
        Holding(scores, persons=_AUTHOR, key="score_id", children=(_LINKS,), sealed=SCORES.privacy()),
        Holding(classifications, persons=_AUTHOR, key="classification_id"),
        Holding(pending, persons=_AUTHOR, key="source_id", sealed=PENDING.privacy()),
        # After the scores: their links to the snippets are gone by then.
        Holding(evidence, persons=_AUTHOR, key="evidence_hash", sealed=EVIDENCE.privacy()),
    ),
    orphans=(Orphans(evidence, link=score_evidence, columns=("company_id", "evidence_hash")),),
    # Shared snippets from before sealing are plain: another person's may quote the subject's e-mail.
    scrubs=(Scrub(evidence, ("snippet",)),),
)
