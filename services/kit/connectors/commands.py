"""The import commands and queries every connector answers (one CSV file in, batches and errors out)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImportRecords:
    """Import one CSV export of a record kind as one batch."""

    company_id: str
    kind: str
    data: bytes
    file_name: str = ""


@dataclass(frozen=True)
class GetImport:
    """Read one import batch."""

    company_id: str
    batch_id: str


@dataclass(frozen=True)
class GetImportErrors:
    """Read the row errors of one import batch."""

    company_id: str
    batch_id: str


@dataclass(frozen=True)
class ListImports:
    """A page of import batches, newest first."""

    company_id: str
    page_size: int = 0
    page_token: str = ""
