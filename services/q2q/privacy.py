"""Where Q2Q keeps people: classifications and scores derived from a person's texts, the evidence
linked to them, and texts waiting for screening."""

from __future__ import annotations

from services.kit.persistence.subjects import Child, Holding, Orphans, Person, Scrub, SubjectMap
from services.q2q.tables import classifications, evidence, pending, score_evidence, scores

_AUTHOR = {"author": Person(profile_id="profile_id")}
# Evidence snippets are shared by hash; the subject's go once no other score links them.
_EVIDENCE = Child(evidence, column="evidence_hash", key="evidence_hash", export_only=True)
_LINKS = Child(score_evidence, column="score_id", key="score_id", children=(_EVIDENCE,))

MAP = SubjectMap(
    service="q2q",
    holdings=(
        Holding(scores, persons=_AUTHOR, key="score_id", children=(_LINKS,)),
        Holding(classifications, persons=_AUTHOR, key="classification_id"),
        Holding(pending, persons=_AUTHOR, key="source_id"),
    ),
    orphans=(Orphans(evidence, link=score_evidence, columns=("company_id", "evidence_hash")),),
    scrubs=(Scrub(evidence, ("snippet",)),),
)
