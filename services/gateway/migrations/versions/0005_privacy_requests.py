"""Data-subject requests: the request, each service's part and the sections of an export bundle."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("request_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_profile_id", sa.String(64), nullable=False),
        sa.Column("subject_email", sa.String(254), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("own", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('export', 'erasure')", name="ck_privacy_requests_kind"),
        sa.CheckConstraint(
            "status IN ('received', 'in_progress', 'completed', 'failed')", name="ck_privacy_requests_status"
        ),
    )
    op.create_index("ix_privacy_requests_next_attempt_at", "privacy_requests", ["next_attempt_at"])
    op.create_index("ix_privacy_requests_company_created", "privacy_requests", ["company_id", "created_at"])
    op.create_table(
        "privacy_outcomes",
        sa.Column(
            "request_id",
            sa.String(36),
            sa.ForeignKey("privacy_requests.request_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("found", sa.Integer, nullable=False),
        sa.Column("exported", sa.Integer, nullable=False),
        sa.Column("erased", sa.Integer, nullable=False),
        sa.Column("retained", sa.Integer, nullable=False),
        sa.Column("retained_reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'done', 'failed')", name="ck_privacy_outcomes_status"),
    )
    op.create_table(
        "privacy_sections",
        sa.Column(
            "request_id",
            sa.String(36),
            sa.ForeignKey("privacy_requests.request_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("privacy_sections")
    op.drop_table("privacy_outcomes")
    op.drop_index("ix_privacy_requests_company_created", "privacy_requests")
    op.drop_index("ix_privacy_requests_next_attempt_at", "privacy_requests")
    op.drop_table("privacy_requests")
