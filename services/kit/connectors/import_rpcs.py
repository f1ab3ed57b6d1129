"""The import reads every connector serves the same way (GetImport, ListImports, GetImportErrors): the
caller's company, the kit's import queries off the event loop, the kit's proto forms of batches and row
errors; only the response messages are the service's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from services.kit.connectors.commands import GetImport, GetImportErrors, ListImports
from services.kit.connectors.queries import ImportQueries, ImportRepository
from services.kit.connectors.wire import error_report, import_batch, row_error
from services.kit.persistence.db import TenantUnitOfWork
from services.kit.security.tenancy import current_tenant

GetT = TypeVar("GetT")
ListT = TypeVar("ListT")
ErrorsT = TypeVar("ErrorsT")


class BatchRequest(Protocol):
    """What every connector's GetImportRequest and GetImportErrorsRequest carry."""

    @property
    def batch_id(self) -> str: ...


class ImportsPageRequest(Protocol):
    """What every connector's ListImportsRequest carries."""

    @property
    def page_size(self) -> int: ...

    @property
    def page_token(self) -> str: ...


class ImportRpcs(Generic[GetT, ListT, ErrorsT]):
    """GetImport, ListImports and GetImportErrors of a connector's servicer, read by its `imports` queries
    over `imports_uow` and answered with its own service's messages: the servicer lists this class before
    its generated base, sets `imports` and `imports_uow`, and names the three response messages as
    `get_import_response`, `list_imports_response` and `get_import_errors_response`."""

    imports: ImportQueries
    imports_uow: TenantUnitOfWork[ImportRepository]
    get_import_response: Callable[..., GetT]
    list_imports_response: Callable[..., ListT]
    get_import_errors_response: Callable[..., ErrorsT]

    async def GetImport(self, request: BatchRequest, context: object) -> GetT:
        query = GetImport(current_tenant(), request.batch_id)
        batch = await asyncio.to_thread(self.imports.get_import, query, uow=self.imports_uow)
        return self.get_import_response(batch=import_batch(batch))

    async def ListImports(self, request: ImportsPageRequest, context: object) -> ListT:
        query = ListImports(current_tenant(), request.page_size, request.page_token)
        page = await asyncio.to_thread(self.imports.list_imports, query, uow=self.imports_uow)
        batches = [import_batch(b) for b in page.batches]
        return self.list_imports_response(batches=batches, next_page_token=page.next_page_token)

    async def GetImportErrors(self, request: BatchRequest, context: object) -> ErrorsT:
        query = GetImportErrors(current_tenant(), request.batch_id)
        errors = await asyncio.to_thread(self.imports.get_import_errors, query, uow=self.imports_uow)
        return self.get_import_errors_response(body=error_report(errors), errors=[row_error(e) for e in errors])
