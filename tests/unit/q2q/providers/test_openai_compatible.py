"""The model-backed provider's protocol handling, against a local fake chat-completions server on loopback:
what it sends, what it keeps of a reply, its cache, budget, cool-down and fallback to the local model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.kit import config
from services.kit.config import ConfigError
from services.q2q import bootstrap
from services.q2q.domain.classifier import Method, RuleBasedClassifier
from services.q2q.domain.taxonomy import Label
from services.q2q.domain.trained_classifier import TrainedClassifier
from services.q2q.providers.openai_compatible import (
    PROMPT_VERSION,
    OpenAICompatibleClassifier,
    ProviderSettings,
    system_prompt,
)

TEXT = "I used to be so shy, now I am the one who asks questions. My mentor never replies though."
Answer = Callable[[dict[str, Any]], tuple[int, bytes]]


@dataclass
class FakeProvider:
    """What the fake server received, and how it answers the next requests."""

    answer: Answer
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


def completion(labels: list[dict[str, Any]], *, tokens: int | None = 120) -> tuple[int, bytes]:
    """A chat completion whose message is the JSON object the prompt asks for."""
    body: dict[str, Any] = {"choices": [{"message": {"role": "assistant", "content": json.dumps({"labels": labels})}}]}
    if tokens is not None:
        body["usage"] = {"total_tokens": tokens}
    return 200, json.dumps(body).encode()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider(answer=lambda _: completion([]))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake.requests.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            fake.headers.append({k.lower(): v for k, v in self.headers.items()})
            status, body = fake.answer(fake.requests[-1]) if self.path == "/v1/chat/completions" else (404, b"{}")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def classifier(
    fake: FakeProvider, clock: Callable[[], float] = time.monotonic, **settings: Any
) -> OpenAICompatibleClassifier:
    chosen = ProviderSettings(url=fake.url, model="tiny-model", api_key="k-123", **settings)
    return OpenAICompatibleClassifier(chosen, fallback=RuleBasedClassifier(), clock=clock)


def test_labels_come_with_spans_on_the_texts_own_words_and_the_model_that_made_them(provider: FakeProvider) -> None:
    provider.answer = lambda _: completion(
        [
            {"label": "confidence_increase", "confidence": 0.91, "evidence": "now I am the one who asks questions"},
            {"label": "lack_of_support", "confidence": 0.8, "evidence": "my mentor never replies"},
        ]
    )
    found = classifier(provider).classify(TEXT)
    assert found.labels == (Label.CONFIDENCE_INCREASE, Label.LACK_OF_SUPPORT)
    assert found.confidence == {Label.CONFIDENCE_INCREASE: 0.91, Label.LACK_OF_SUPPORT: 0.8}
    assert (found.method, found.model_version) == (Method.AI_CLASSIFIER, f"tiny-model+{PROMPT_VERSION}")
    for evidence in found.evidence:
        assert TEXT[evidence.start : evidence.end] == evidence.text
    # Matched ignoring case, reported as the text writes it.
    assert found.evidence[1].text == "My mentor never replies"


def test_the_request_is_a_json_chat_completion_at_temperature_zero_with_the_taxonomy(provider: FakeProvider) -> None:
    classifier(provider).classify(TEXT)
    (request,), (headers,) = provider.requests, provider.headers
    assert request["model"] == "tiny-model"
    assert request["temperature"] == 0
    assert request["response_format"] == {"type": "json_object"}
    assert request["messages"] == [{"role": "system", "content": system_prompt()}, {"role": "user", "content": TEXT}]
    assert headers["authorization"] == "Bearer k-123"
    assert all(label.value in system_prompt() for label in Label)


def test_labels_outside_the_taxonomy_unquoted_or_out_of_range_are_dropped(provider: FakeProvider) -> None:
    provider.answer = lambda _: completion(
        [
            {"label": "happiness", "confidence": 0.9, "evidence": "so shy"},
            {"label": "isolation", "confidence": 0.9, "evidence": "I have no friends here"},
            {"label": "anxiety", "confidence": 1.7, "evidence": "so shy"},
            {"label": "confidence_increase", "confidence": 0.7, "evidence": "   "},
            {"label": "lack_of_support", "confidence": 0.6, "evidence": "never replies", "extra": "ignored"},
        ]
    )
    found = classifier(provider).classify(TEXT)
    assert found.labels == (Label.LACK_OF_SUPPORT,)
    assert found.method is Method.AI_CLASSIFIER


@pytest.mark.parametrize(
    "answer",
    [
        lambda _: (500, b'{"error": "overloaded"}'),
        lambda _: (429, b'{"error": "rate limited"}'),
        lambda _: (200, b"not json at all"),
        lambda _: (200, b'{"choices": []}'),
        lambda _: (200, json.dumps({"choices": [{"message": {"content": "Sure! Here are the labels."}}]}).encode()),
        lambda _: (200, json.dumps({"choices": [{"message": {"content": '{"labels": "none"}'}}]}).encode()),
    ],
    ids=["server-error", "rate-limited", "not-json", "no-choice", "prose-reply", "wrong-shape"],
)
def test_a_provider_that_gives_no_usable_answer_leaves_the_text_to_the_local_model(
    provider: FakeProvider, answer: Answer
) -> None:
    provider.answer = answer
    found = classifier(provider).classify(TEXT)
    assert found == RuleBasedClassifier().classify(TEXT)


def test_an_unreachable_provider_leaves_the_text_to_the_local_model() -> None:
    fake = FakeProvider(answer=lambda _: completion([]), url="http://127.0.0.1:9/v1")
    found = classifier(fake, timeout_seconds=0.5).classify(TEXT)
    assert found.method is Method.RULE_BASED


def test_an_answer_is_cached_by_content_and_a_fallback_answer_is_not(provider: FakeProvider) -> None:
    provider.answer = lambda _: completion([{"label": "isolation", "confidence": 0.5, "evidence": "shy"}])
    model = classifier(provider)
    first, again = model.classify(TEXT), model.classify(TEXT)
    assert first == again
    assert len(provider.requests) == 1
    model.classify(TEXT + " ")
    assert len(provider.requests) == 2
    provider.answer = lambda _: (503, b"{}")
    assert model.classify("another text").method is Method.RULE_BASED
    assert model.classify("another text").method is Method.RULE_BASED
    assert len(provider.requests) == 4


def test_the_cache_keeps_the_latest_answers_only(provider: FakeProvider) -> None:
    model = classifier(provider, cache_size=2)
    for text in ("one", "two", "three", "one"):
        model.classify(text)
    assert len(provider.requests) == 4


def test_a_spent_budget_sends_texts_to_the_local_model_until_its_window_ends(provider: FakeProvider) -> None:
    now = [0.0]
    model = classifier(provider, clock=lambda: now[0], budget_tokens=240, budget_window_seconds=3600)
    provider.answer = lambda _: completion([], tokens=120)
    assert model.classify("a").method is Method.AI_CLASSIFIER
    assert model.classify("b").method is Method.AI_CLASSIFIER
    # 240 of 240 spent: "c" is not sent (a call may end past the budget; none starts once it is spent).
    assert model.classify("c").method is Method.RULE_BASED
    assert len(provider.requests) == 2
    now[0] = 3600.0
    assert model.classify("c").method is Method.AI_CLASSIFIER
    assert len(provider.requests) == 3


def test_a_reply_without_usage_is_counted_by_its_size(provider: FakeProvider) -> None:
    provider.answer = lambda _: completion([], tokens=None)
    model = classifier(provider, budget_tokens=len(system_prompt()) // 4)
    assert model.classify("a").method is Method.AI_CLASSIFIER
    assert model.classify("b").method is Method.RULE_BASED


def test_failures_in_a_row_rest_the_provider_for_its_cool_down(provider: FakeProvider) -> None:
    now = [0.0]
    provider.answer = lambda _: (500, b"{}")
    model = classifier(provider, clock=lambda: now[0], failure_threshold=2, cooldown_seconds=30)
    for text in ("a", "b", "c", "d"):
        assert model.classify(text).method is Method.RULE_BASED
    assert len(provider.requests) == 2
    now[0] = 30.0
    provider.answer = lambda _: completion([])
    assert model.classify("e").method is Method.AI_CLASSIFIER
    assert len(provider.requests) == 3


def test_a_batch_is_classified_text_by_text(provider: FakeProvider) -> None:
    provider.answer = lambda request: completion(
        [{"label": "anxiety", "confidence": 0.6, "evidence": request["messages"][1]["content"]}]
    )
    found = classifier(provider).classify_batch(["worried", "nervous"])
    assert [c.evidence[0].text for c in found] == ["worried", "nervous"]


def test_the_provider_is_off_by_default_and_on_with_a_url(provider: FakeProvider) -> None:
    assert isinstance(bootstrap.configured_classifier({}), TrainedClassifier)
    chosen = bootstrap.configured_classifier({"TEEI_Q2Q_PROVIDER_URL": provider.url, "TEEI_Q2Q_PROVIDER_MODEL": "m"})
    assert isinstance(chosen, OpenAICompatibleClassifier)
    chosen.close()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TEEI_Q2Q_PROVIDER_URL": "ftp://x", "TEEI_Q2Q_PROVIDER_MODEL": "m"}, "http:// or https://"),
        ({"TEEI_Q2Q_PROVIDER_URL": "http://x/v1"}, "TEEI_Q2Q_PROVIDER_MODEL is required"),
        (
            {
                "TEEI_Q2Q_PROVIDER_URL": "http://x/v1",
                "TEEI_Q2Q_PROVIDER_MODEL": "m",
                "TEEI_Q2Q_PROVIDER_BUDGET_TOKENS": "-1",
            },
            "BUDGET_TOKENS",
        ),
    ],
)
def test_bad_provider_settings_are_refused_at_start(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(ProviderSettings, environ)


def test_the_api_key_is_masked_when_settings_are_described() -> None:
    settings = ProviderSettings(url="http://x/v1", model="m", api_key="secret-value")
    assert config.describe(settings)["api_key"] == "***"
