"""Standard Webhooks verification: the published test vector, tampering, time window, rotation."""

from __future__ import annotations

import base64

import pytest

from services.kit import webhooks
from services.kit.errors import Unauthenticated
from services.kit.webhooks import StaticSecrets, WebhookRejected, WebhookVerifier

# The Standard Webhooks specification's own example.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"n" * 32).decode()
NOW = 1_700_000_000


def _headers(signature: str, *, message_id: str = "msg_1", timestamp: int = NOW) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def _signed(body: bytes, secret: str = NEW_SECRET, *, timestamp: int = NOW) -> dict[str, str]:
    return _headers(webhooks.sign(secret, "msg_1", timestamp, body), timestamp=timestamp)


def _reason(body: bytes, headers: dict[str, str], secrets: list[str], *, now: float = NOW) -> str:
    with pytest.raises(WebhookRejected) as caught:
        webhooks.verify(headers, body, secrets, now=now)
    assert isinstance(caught.value, Unauthenticated)
    return caught.value.reason


def test_published_test_vector_signs_and_verifies_with_the_clock_pinned() -> None:
    assert webhooks.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = _headers(VECTOR_SIGNATURE, message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP)
    delivery = webhooks.verify(headers, VECTOR_BODY, [VECTOR_SECRET], now=VECTOR_TIMESTAMP)
    assert delivery == webhooks.VerifiedDelivery(message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in _signed(b"{}").items()}
    assert webhooks.verify(headers, b"{}", [NEW_SECRET], now=NOW).message_id == "msg_1"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"a": 2}', _signed(b'{"a": 1}')),  # body changed
        (b'{"a": 1}', {**_signed(b'{"a": 1}'), "webhook-id": "msg_2"}),  # id changed
        (b'{"a": 1}', {**_signed(b'{"a": 1}'), "webhook-timestamp": str(NOW + 1)}),  # timestamp changed
        (b'{"a": 1} ', _signed(b'{"a": 1}')),  # one byte appended
    ],
)
def test_tampered_delivery_is_rejected(body: bytes, headers: dict[str, str]) -> None:
    assert _reason(body, headers, [NEW_SECRET]) == "WEBHOOK_SIGNATURE_INVALID"


def test_signature_with_an_unknown_secret_is_rejected() -> None:
    assert _reason(b"{}", _signed(b"{}", OLD_SECRET), [NEW_SECRET]) == "WEBHOOK_SIGNATURE_INVALID"


def test_expired_and_future_timestamps_are_rejected_at_five_minutes() -> None:
    assert _reason(b"{}", _signed(b"{}", timestamp=NOW - 301), [NEW_SECRET]) == "WEBHOOK_EXPIRED"
    assert _reason(b"{}", _signed(b"{}", timestamp=NOW + 301), [NEW_SECRET]) == "WEBHOOK_FROM_FUTURE"
    for edge in (NOW - 300, NOW + 300):
        assert webhooks.verify(_signed(b"{}", timestamp=edge), b"{}", [NEW_SECRET], now=NOW).timestamp == edge


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "WEBHOOK_UNSIGNED"),
        ({"webhook-id": "msg_1", "webhook-timestamp": str(NOW)}, "WEBHOOK_UNSIGNED"),
        (_headers(""), "WEBHOOK_UNSIGNED"),
        (_headers("v2,abc v1a,xyz"), "WEBHOOK_UNSIGNED"),
        (_headers("v1,AAAA", timestamp=0) | {"webhook-timestamp": "17e8"}, "WEBHOOK_TIMESTAMP_INVALID"),
        (_headers("v1,AAAA") | {"webhook-timestamp": "-5"}, "WEBHOOK_TIMESTAMP_INVALID"),
        (_headers("v1,AAAA", message_id="x" * 257), "WEBHOOK_ID_INVALID"),
        (_headers("v1,AAAA", message_id="has space"), "WEBHOOK_ID_INVALID"),
    ],
)
def test_unsigned_or_malformed_headers_are_rejected(headers: dict[str, str], reason: str) -> None:
    assert _reason(b"{}", headers, [NEW_SECRET]) == reason


def test_no_configured_secret_rejects_rather_than_accepts() -> None:
    assert _reason(b"{}", _signed(b"{}"), []) == "WEBHOOK_NO_SECRET"


def test_several_signatures_are_accepted_while_the_sender_rotates() -> None:
    body = b'{"event": 1}'
    old = webhooks.sign(OLD_SECRET, "msg_1", NOW, body)
    new = webhooks.sign(NEW_SECRET, "msg_1", NOW, body)
    headers = _headers(f"v2,ignored {old} {new}")
    assert webhooks.verify(headers, body, [NEW_SECRET], now=NOW).message_id == "msg_1"
    assert webhooks.verify(headers, body, [OLD_SECRET], now=NOW).message_id == "msg_1"


def test_verifier_accepts_every_secret_of_the_tenant_and_source_only() -> None:
    store = StaticSecrets({("acme", "kintell"): [OLD_SECRET, NEW_SECRET], ("globex", "kintell"): [VECTOR_SECRET]})
    verifier = WebhookVerifier(store, clock=lambda: NOW)
    for secret in (OLD_SECRET, NEW_SECRET):
        delivery = verifier.verify(tenant="acme", source="kintell", headers=_signed(b"{}", secret), body=b"{}")
        assert delivery.message_id == "msg_1"
    with pytest.raises(WebhookRejected) as cross_tenant:
        verifier.verify(tenant="globex", source="kintell", headers=_signed(b"{}", NEW_SECRET), body=b"{}")
    assert cross_tenant.value.reason == "WEBHOOK_SIGNATURE_INVALID"
    with pytest.raises(WebhookRejected) as other_source:
        verifier.verify(tenant="acme", source="buddy", headers=_signed(b"{}", NEW_SECRET), body=b"{}")
    assert other_source.value.reason == "WEBHOOK_NO_SECRET"


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()])
def test_malformed_or_weak_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        webhooks.decode_secret(secret)
