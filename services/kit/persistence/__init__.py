"""Databases: engines and units of work, idempotency records, retention."""
