"""A revision that only seals quarantined rows (sealed_quarantined_rows_v1): its upgrade and downgrade.

Each quarantined row gets its batch's `company_id` and the `profile_id` of the person it names (its first valid
e-mail column), whose key seals its `raw` cells and its `errors` (which quote the refused values); a row naming
nobody is sealed with the company's key (`profile_id` NULL). Erasure finds a person's rows by (company, profile
id), an index. Old rows keep their plain JSON (company "" and profile id NULL): the running service copies
their batch's company, derives their person and seals them in batches (online migration), reading both forms
meanwhile. The downgrade refuses while any value is sealed: unseal first (`teei pii unseal --service
<service>`), since a migration holds no keys.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import op

from services.kit.persistence.frozen_revisions import sealed_quarantined_rows_v1


def revision(service: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """The upgrade and the downgrade, which refuses while any of `service`'s quarantined rows is sealed."""

    def upgrade() -> None:
        sealed_quarantined_rows_v1.upgrade(op)

    def downgrade() -> None:
        sealed_quarantined_rows_v1.downgrade(op, service)

    return upgrade, downgrade
