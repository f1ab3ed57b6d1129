"""Personal fields sealed at rest (expand step): each match, check-in and feedback person's e-mail, Buddy
id and names become sealed text, wider than the plain values, and so does an event's location (its
description, a check-in's notes and answers, a feedback's text are Text already). An event names whose
key seals its texts (`writer_profile_id`, its match's participant), and each attendee row gets the
attendee's own columns, sealed with the attendee's key, and their place in the event's list: a sealed
event's `attendees` column then holds no e-mail, only the marker 'buddy_event_attendees'.

Old rows keep their plain values: the running service seals them in batches (services/buddy/sealing.py)
and reads both forms meanwhile. The downgrade refuses while any value is sealed or any event's list was
moved into its attendee rows — unseal first (`teei pii unseal --service buddy`), since a migration holds
no keys."""

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import sealed_values_v1

revision = "0007"
down_revision = "0006"

PEOPLE = {
    "buddy_matches": ("participant", "buddy"),
    "buddy_checkins": ("person",),
    "buddy_feedback": ("author",),
}
WIDENED = {"email": 255, "external_id": 255, "given_name": 200, "family_name": 200}
ATTENDEE_FIELDS = ("email", "external_id", "given_name", "family_name")
SEALED = {
    **{table: [f"{r}_{c}" for r in roles for c in WIDENED] for table, roles in PEOPLE.items()},
    "buddy_events": ["description", "location"],
    "buddy_event_attendees": list(ATTENDEE_FIELDS),
}
SEALED["buddy_checkins"] += ["notes", "answers"]
SEALED["buddy_feedback"] += ["text"]
MOVED = "buddy_event_attendees"  # buddy_events.attendees of an event whose list is in its attendee rows


def upgrade() -> None:
    for table, roles in PEOPLE.items():
        with op.batch_alter_table(table) as batch:
            for role in roles:
                for column, length in WIDENED.items():
                    batch.alter_column(
                        f"{role}_{column}", type_=sa.Text(), existing_type=sa.String(length), existing_nullable=False
                    )
    with op.batch_alter_table("buddy_events") as batch:
        batch.alter_column("location", type_=sa.Text(), existing_type=sa.String(255), existing_nullable=False)
        batch.add_column(sa.Column("writer_profile_id", sa.String(36), nullable=False, server_default=""))
    with op.batch_alter_table("buddy_event_attendees") as batch:
        batch.add_column(sa.Column("position", sa.Integer, nullable=False, server_default="0"))
        for column in ATTENDEE_FIELDS:
            batch.add_column(sa.Column(column, sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    moved = sa.text("SELECT count(*) FROM buddy_events WHERE attendees = :moved").bindparams(moved=MOVED)
    moved_rows = int(op.get_bind().execute(moved).scalar() or 0)
    sealed_values_v1.refuse_while_sealed(op, "buddy", SEALED, also=moved_rows)
    with op.batch_alter_table("buddy_event_attendees") as batch:
        for column in (*ATTENDEE_FIELDS, "position"):
            batch.drop_column(column)
    with op.batch_alter_table("buddy_events") as batch:
        batch.drop_column("writer_profile_id")
        batch.alter_column("location", type_=sa.String(255), existing_type=sa.Text(), existing_nullable=False)
    for table, roles in PEOPLE.items():
        with op.batch_alter_table(table) as batch:
            for role in roles:
                for column, length in WIDENED.items():
                    batch.alter_column(
                        f"{role}_{column}", type_=sa.String(length), existing_type=sa.Text(), existing_nullable=False
                    )
