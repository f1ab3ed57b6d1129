"""The import reads every connector answers (one batch, a page of batches, a batch's row errors),
and the check that an id in a request is a platform id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from services.kit.connectors.commands import GetImport, GetImportErrors, ListImports
from services.kit.connectors.csvimport import RowError
from services.kit.connectors.imports import Batch, ImportBatches
from services.kit.connectors.listings import read_page
from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from services.kit.persistence.db import TenantUnitOfWork


class ImportRepository(Protocol):
    """A connector repository, as far as import batches go."""

    @property
    def imports(self) -> ImportBatches: ...


class ImportPage(NamedTuple):
    """A page of import batches, newest first, and the token of the next page ('' on the last)."""

    batches: list[Batch]
    next_page_token: str


@dataclass(frozen=True)
class ImportQueries:
    """The import reads of one connector, refusing with the connector's own error classes."""

    invalid: type[InvalidArgument]
    not_found: type[NotFound]

    def get_import(self, query: GetImport, *, uow: TenantUnitOfWork[ImportRepository]) -> Batch:
        """One import batch of the caller's company."""
        batch_id = platform_id(query.batch_id, "batch_id", invalid=self.invalid)
        with uow.read(company_id=query.company_id) as repo:
            return self._batch(repo.imports, batch_id)

    def list_imports(self, query: ListImports, *, uow: TenantUnitOfWork[ImportRepository]) -> ImportPage:
        """A page of the caller's import batches, newest first."""
        return ImportPage(
            *read_page(
                query,
                listing=("imports",),
                uow=uow,
                find=lambda repo, start, size: repo.imports.newest(after=start, size=size),
                position=lambda batch: (batch.created_at, batch.batch_id),
                invalid=self.invalid,
            )
        )

    def get_import_errors(self, query: GetImportErrors, *, uow: TenantUnitOfWork[ImportRepository]) -> list[RowError]:
        """The row errors of one import batch of the caller's company, in row order."""
        batch_id = platform_id(query.batch_id, "batch_id", invalid=self.invalid)
        with uow.read(company_id=query.company_id) as repo:
            return repo.imports.errors(self._batch(repo.imports, batch_id).batch_id)

    def _batch(self, batches: ImportBatches, batch_id: str) -> Batch:
        batch = batches.get(batch_id)
        if batch is None:
            raise self.not_found("import batch not found", metadata={"batch_id": batch_id})
        return batch


def platform_id(value: str, field: str, *, invalid: type[InvalidArgument]) -> str:
    """A platform id (a UUID, made canonical); anything else is a malformed request, not a missing record."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        violation = FieldViolation(field, "must be a UUID")
        raise invalid(f"{field} is not a valid id", violations=[violation]) from None
