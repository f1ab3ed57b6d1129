"""Indexes on import_batches (import_tables_v1) that the connectors' later revisions add, name: (table, columns).

BY_AGE: retention's deletes by age (raw_imports, and quarantined rows dated through their batch) scanned the
whole table at every sweep without an index on created_at.
BY_COMPANY: a page of a company's batches (newest first) reads them in that order from (company_id, created_at,
batch_id); with only ix_import_batches_company_id every page read and sorted all the company's batches, and
PostgreSQL walked ix_import_batches_created_at across every company instead.
Built and dropped CONCURRENTLY on PostgreSQL (concurrent_indexes_v1), so imports are never blocked.
"""

from __future__ import annotations

BY_AGE = {"ix_import_batches_created_at": ("import_batches", ["created_at"])}
BY_COMPANY = {"ix_import_batches_company_created": ("import_batches", ["company_id", "created_at", "batch_id"])}
