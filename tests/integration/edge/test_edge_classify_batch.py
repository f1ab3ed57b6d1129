"""POST /v1/q2q/classify:batch through the real edge (conftest.py): transcoded to ClassifyBatch with every
item, its items' fields checked like Classify's, and the roles of Classify; refusals never reach the service."""

from __future__ import annotations

import json

import httpx
import pytest

from teei.q2q.v1 import q2q_pb2
from tests.integration.edge.conftest import Edge
from tests.integration.test_edge_config import auth_header

BATCH_PATH = "/v1/q2q/classify:batch"
CLASSIFY_BATCH = "/teei.q2q.v1.Q2qService/ClassifyBatch"


def _post(edge: Edge, body: object, *, role: str = "company_admin") -> httpx.Response:
    headers = auth_header(role=role) | {"content-type": "application/json"}
    return edge.request("POST", BATCH_PATH, content=json.dumps(body), headers=headers)


def test_a_batch_reaches_the_service_with_every_item_in_either_spelling(edge: Edge) -> None:
    items = [
        {"itemId": "a", "text": "good progress"},
        {"item_id": "b", "text": "lonely", "sourceTextId": "t-1", "source_text_type": "TEXT_SOURCE_TYPE_BUDDY_FEEDBACK",
         "profile_id": "p-1", "store": True},
    ]  # fmt: skip
    response = _post(edge, {"items": items})
    assert response.status_code == 200, response.text
    request = q2q_pb2.ClassifyBatchRequest.FromString(edge.upstream.of(CLASSIFY_BATCH)[-1].request)
    assert [(i.item_id, i.text, i.source_text_id, i.profile_id, i.store) for i in request.items] == [
        ("a", "good progress", "", "", False),
        ("b", "lonely", "t-1", "p-1", True),
    ]


def test_an_unknown_field_of_an_item_is_refused_naming_the_item(edge: Edge) -> None:
    calls = len(edge.upstream.of(CLASSIFY_BATCH))
    response = _post(edge, {"items": [{"text": "good"}, {"text": "t", "tenant": "other"}]})
    assert response.status_code == 400, response.text
    assert response.json()["message"] == 'unknown field "items[1].tenant" in the request body'
    assert len(edge.upstream.of(CLASSIFY_BATCH)) == calls


@pytest.mark.parametrize("role", ["company_user", "participant", "volunteer"])
def test_roles_that_may_not_classify_are_refused_at_the_edge(edge: Edge, role: str) -> None:
    calls = len(edge.upstream.of(CLASSIFY_BATCH))
    assert _post(edge, {"items": [{"text": "good"}]}, role=role).status_code == 403
    assert len(edge.upstream.of(CLASSIFY_BATCH)) == calls


def test_without_a_token_the_answer_is_401(edge: Edge) -> None:
    response = httpx.post(f"{edge.edge.url}{BATCH_PATH}", content='{"items": []}', timeout=10.0)
    assert response.status_code == 401, response.text


def test_only_post_is_allowed(edge: Edge) -> None:
    response = edge.request("GET", BATCH_PATH)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
