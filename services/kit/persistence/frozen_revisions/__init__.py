"""Frozen revision bodies: the DDL several services' Alembic revisions share, one module per body and version.

A revision is history: what it did must not change when live code does, so a revision imports only Alembic,
SQLAlchemy, the standard library and these modules, and these import nothing else either. Each module is
pinned by its SHA-256 (tests/unit/kit/persistence/test_frozen_revisions.py): a module is never
edited once a revision uses it; a changed body is a new module (`<name>_v2.py`) used by a new revision.
Every function takes Alembic's `op` from the revision that calls it, except in a `<name>_revision_v<N>` module:
the whole upgrade and downgrade of a revision that does nothing else, which imports them (or builds them with
`revision(...)` from its own arguments) instead of repeating the wrappers.
"""
