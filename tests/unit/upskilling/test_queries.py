"""Reads: filters, page-size cap, opaque page tokens bound to their query, malformed ids."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.kit import paging
from services.upskilling import handlers, queries
from services.upskilling.domain.commands import (
    GetCredential,
    GetImport,
    GetProgress,
    ImportRecords,
    ListCredentials,
    ListProgress,
)
from services.upskilling.domain.errors import CredentialNotFound, InvalidRequest
from services.upskilling.domain.model import CredentialType, ProgressStatus
from services.upskilling.repository import SqlUpskillingUnitOfWork

HEADER = b"provider,course_id,course_name,email,completed_at,external_id,started_at,final_score\n"


def _completions(uow: SqlUpskillingUnitOfWork, count: int, email: str = "ada@example.org") -> None:
    rows = b"".join(b"ecornell,C%d,Course %d,%s,2026-03-01,,,\n" % (n, n, email.encode()) for n in range(count))
    handlers.import_records(ImportRecords("acme", "completions", HEADER + rows), uow=uow)


def test_pages_are_capped_at_100_and_walk_every_record_once(uow: SqlUpskillingUnitOfWork) -> None:
    _completions(uow, 130)
    seen: list[str] = []
    token, pages = "", 0
    while True:
        records, token = queries.list_progress(ListProgress("acme", page_size=500, page_token=token), uow=uow)
        assert len(records) <= paging.MAX_PAGE_SIZE
        seen += [r.progress_id for r in records]
        pages += 1
        if not token:
            break
    assert (len(seen), len(set(seen)), pages) == (130, 130, 2)


def test_filters_combine_and_email_is_normalised(uow: SqlUpskillingUnitOfWork) -> None:
    _completions(uow, 2)
    _completions(uow, 1, email="bob@example.org")
    by_email = queries.list_progress(ListProgress("acme", email="  BOB@example.org "), uow=uow)[0]
    assert [r.learner.email for r in by_email] == ["bob@example.org"]
    assert queries.list_progress(ListProgress("acme", status=ProgressStatus.DROPPED), uow=uow)[0] == []
    assert len(queries.list_progress(ListProgress("acme", provider="ecornell"), uow=uow)[0]) == 3
    assert queries.list_progress(ListProgress("acme", provider="itslearning"), uow=uow)[0] == []
    unlinked = "0b5f0e8e-3b5a-4c1e-9a64-1f1c1b0f2c11"
    assert queries.list_progress(ListProgress("acme", profile_id=unlinked), uow=uow)[0] == []
    badges = ListCredentials("acme", credential_type=CredentialType.BADGE)
    assert queries.list_credentials(badges, uow=uow) == ([], "")


def test_a_page_token_only_continues_the_query_it_came_from(uow: SqlUpskillingUnitOfWork) -> None:
    _completions(uow, 3)
    _, token = queries.list_progress(ListProgress("acme", page_size=1), uow=uow)
    assert token
    with pytest.raises(InvalidRequest) as refused:
        queries.list_progress(ListProgress("acme", email="ada@example.org", page_size=1, page_token=token), uow=uow)
    assert [v.field for v in refused.value.violations] == ["page_token"]
    with pytest.raises(InvalidRequest):
        queries.list_progress(ListProgress("globex", page_size=1, page_token=token), uow=uow)


@pytest.mark.parametrize("token", ["garbage!", "e30", "x" * 600, "bnVsbA"])
def test_malformed_page_tokens_are_refused(uow: SqlUpskillingUnitOfWork, token: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        queries.list_progress(ListProgress("acme", page_token=token), uow=uow)
    assert [v.field for v in refused.value.violations] == ["page_token"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda uow: queries.get_progress(GetProgress("acme", "../x"), uow=uow), "progress_id"),
        (lambda uow: queries.get_credential(GetCredential("acme", ""), uow=uow), "credential_id"),
        (lambda uow: queries.get_import(GetImport("acme", "1; drop"), uow=uow), "batch_id"),
        (lambda uow: queries.list_progress(ListProgress("acme", profile_id="p1"), uow=uow), "profile_id"),
        (lambda uow: queries.list_progress(ListProgress("acme", email="nobody"), uow=uow), "email"),
        (lambda uow: queries.list_credentials(ListCredentials("acme", page_size=-1), uow=uow), "page_size"),
    ],
)
def test_malformed_ids_and_filters_are_invalid_arguments(
    uow: SqlUpskillingUnitOfWork, call: Callable[[SqlUpskillingUnitOfWork], object], field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        call(uow)
    assert [v.field for v in refused.value.violations] == [field]


def test_an_unknown_credential_is_not_found(uow: SqlUpskillingUnitOfWork) -> None:
    with pytest.raises(CredentialNotFound):
        queries.get_credential(GetCredential("acme", "0b5f0e8e-3b5a-4c1e-9a64-1f1c1b0f2c11"), uow=uow)
