"""Retention's deletes by age read indexes: created_at of q2q_evidence, q2q_scores and
q2q_classifications (the company-first indexes cannot serve a range across companies), the links of a
snippet (q2q_score_evidence by company_id, evidence_hash: joined from expiring snippets and checked by the
foreign key as each snippet goes) and a classification's scores (q2q_scores.classification_id: the
cascade as each classification goes). Each sweep scanned those tables. PostgreSQL builds and drops the
indexes CONCURRENTLY, outside the migration's transaction, so classification is never blocked."""

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1

revision = "0004"
down_revision = "0003"

# name: (table, columns)
INDEXES = {
    "ix_q2q_evidence_created_at": ("q2q_evidence", ["created_at"]),
    "ix_q2q_score_evidence_evidence": ("q2q_score_evidence", ["company_id", "evidence_hash"]),
    "ix_q2q_scores_created_at": ("q2q_scores", ["created_at"]),
    "ix_q2q_scores_classification_id": ("q2q_scores", ["classification_id"]),
    "ix_q2q_classifications_created_at": ("q2q_classifications", ["created_at"]),
}

upgrade, downgrade = concurrent_indexes_revision_v1.revision(INDEXES)
