"""Commands and queries the upskilling connector handles."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.connectors.commands import GetImport, GetImportErrors, ImportRecords, ListImports
from services.upskilling.domain.model import CredentialType, ProgressStatus

__all__ = [
    "GetCredential",
    "GetImport",
    "GetImportErrors",
    "GetProgress",
    "ImportRecords",
    "ListCredentials",
    "ListImports",
    "ListProgress",
    "ReceiveWebhook",
]


@dataclass(frozen=True)
class ReceiveWebhook:
    """Take one provider delivery, exactly as received.

    `delivery_id` is the signed webhook-id the RPC verified; it is empty only for a delivery handed
    over in-process (tests, tools), which the provider's event id then identifies."""

    company_id: str
    provider: str
    body: bytes
    delivery_id: str = ""


@dataclass(frozen=True)
class GetProgress:
    """Read one progress record."""

    company_id: str
    progress_id: str


@dataclass(frozen=True)
class ListProgress:
    """A page of progress records; filters combine with AND."""

    company_id: str
    profile_id: str = ""
    email: str = ""
    provider: str = ""
    status: ProgressStatus | None = None
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class GetCredential:
    """Read one credential."""

    company_id: str
    credential_id: str


@dataclass(frozen=True)
class ListCredentials:
    """A page of credentials; filters combine with AND."""

    company_id: str
    profile_id: str = ""
    email: str = ""
    credential_type: CredentialType | None = None
    page_size: int = 0
    page_token: str = ""
