"""A model-backed classifier over an OpenAI-compatible chat completions API (`POST <url>/chat/completions`),
for deployments that run such a model; off unless TEEI_Q2Q_PROVIDER_URL is set.

- **Structured prompt.** The system message lists the taxonomy (every label's code and description) and the
  rules the local model keeps: only what the writer says of the participant, a feeling that is the writer's
  own (a volunteer's worry) is not the participant's, "used to ... now" is the direction of the change, and
  every label needs a verbatim quote. The reply must be one JSON object, `{"labels": [{"label", "confidence",
  "evidence"}]}`; the request asks for JSON (`response_format`) at temperature 0.
- **Checked, never trusted.** A label outside the taxonomy, a confidence outside 0-1 or a quote that is not
  in the text is dropped (evidence spans always point at the text's own words); a reply that is not such
  an object, an HTTP error, a timeout or a refused connection classifies the text with the local model
  instead, and every classification says which model made it (`method`, `model_version`).
- **Cached by content hash** (SHA-256 of the model, prompt version and text; a bounded LRU), so a text
  classified again costs no call. Fallback answers are not cached: the provider is asked again next time.
- **A budget**: at most `budget_tokens` tokens (the reply's `usage.total_tokens`, else an estimate) per
  `budget_window_seconds`; once spent, texts go to the local model until the window ends. After
  `failure_threshold` failures in a row the provider is left alone for `cooldown_seconds`.

Texts reach the provider as Q2Q classifies them (a stored text after Safety's redaction); a deployment that
turns it on makes the provider a processor of that text and must say so in its records of processing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.kit.config import Settings, setting
from services.kit.logs import get_logger
from services.q2q.domain.classifier import Classification, Classifier, Evidence, Method
from services.q2q.domain.taxonomy import LABELS, Label

log = get_logger(__name__)
PROMPT_VERSION = "q2q-prompt-1"
_ORDER = {entry.label: index for index, entry in enumerate(LABELS)}
# Rough tokens of a text when the reply carries no usage (about four characters a token).
_CHARS_PER_TOKEN = 4


class ProviderSettings(Settings):
    """Where the provider is and what it may cost; without `url` there is no provider."""

    url: str | None = setting("TEEI_Q2Q_PROVIDER_URL", default=None)
    model: str = setting("TEEI_Q2Q_PROVIDER_MODEL", default="")
    api_key: str | None = setting("TEEI_Q2Q_PROVIDER_API_KEY", default=None, secret=True)
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = setting("TEEI_Q2Q_PROVIDER_TIMEOUT_SECONDS", default=10.0)
    budget_tokens: Annotated[int, Field(ge=0)] = setting("TEEI_Q2Q_PROVIDER_BUDGET_TOKENS", default=1_000_000)
    budget_window_seconds: Annotated[float, Field(gt=0)] = setting(
        "TEEI_Q2Q_PROVIDER_BUDGET_WINDOW_SECONDS", default=86_400.0
    )
    cache_size: Annotated[int, Field(ge=0)] = setting("TEEI_Q2Q_PROVIDER_CACHE_SIZE", default=10_000)
    failure_threshold: Annotated[int, Field(ge=1)] = setting("TEEI_Q2Q_PROVIDER_FAILURE_THRESHOLD", default=5)
    cooldown_seconds: Annotated[float, Field(ge=0)] = setting("TEEI_Q2Q_PROVIDER_COOLDOWN_SECONDS", default=60.0)

    def model_post_init(self, context: Any, /) -> None:
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("TEEI_Q2Q_PROVIDER_URL must be an http:// or https:// URL")
        if self.url is not None and not self.model:
            raise ValueError("TEEI_Q2Q_PROVIDER_MODEL is required with TEEI_Q2Q_PROVIDER_URL")


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: str
    confidence: float
    evidence: str


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    labels: list[_Item]


class ProviderError(Exception):
    """The provider gave no usable answer (unreachable, an HTTP error, a reply that is not the asked shape)."""


def system_prompt() -> str:
    """The instructions sent with every text: the taxonomy and the rules of reading it."""
    labels = "\n".join(f"- {entry.label.value}: {entry.description}" for entry in LABELS)
    return (
        "You label feedback written in a programme for refugees and migrants (language sessions, mentoring, "
        "buddies, courses), in any language. Return only what the text says about the participant.\n"
        "Rules:\n"
        "- A feeling or worry that is the writer's own (a volunteer worrying whether they help enough) is not "
        "the participant's: do not label it.\n"
        '- "Used to ... now ..." describes a change: label the direction of the change (shy before, speaks up '
        "now is confidence_increase).\n"
        '- A negated statement is not the label ("I don\'t feel alone" is not isolation).\n'
        "- Every label needs `evidence`: a short quote copied exactly from the text.\n"
        "- `confidence` is your probability that the label applies, from 0 to 1.\n"
        'Answer with one JSON object and nothing else: {"labels": [{"label": "<code>", "confidence": <0-1>, '
        '"evidence": "<quote>"}]}; {"labels": []} when nothing applies.\n'
        f"Labels:\n{labels}"
    )


@dataclass
class _Budget:
    """Tokens spent in the current window."""

    limit: int
    window: float
    clock: Callable[[], float]
    spent: int = 0
    started: float | None = None

    def allows(self) -> bool:
        now = self.clock()
        if self.started is None or now - self.started >= self.window:
            self.started, self.spent = now, 0
        return self.spent < self.limit

    def spend(self, tokens: int) -> None:
        self.spent += tokens


class OpenAICompatibleClassifier:
    """Labels from a chat completions model, checked against the taxonomy and the text; `fallback` (the local
    classifier) answers whenever the provider cannot."""

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        fallback: Classifier,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.url is None:
            raise ValueError("no provider URL (TEEI_Q2Q_PROVIDER_URL)")
        self._settings = settings
        self._url = settings.url.rstrip("/") + "/chat/completions"
        self._fallback = fallback
        headers = {"authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._client = client or httpx.Client(timeout=settings.timeout_seconds, headers=headers)
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, Classification] = OrderedDict()
        self._budget = _Budget(settings.budget_tokens, settings.budget_window_seconds, clock)
        self._failures = 0
        self._resting_until = 0.0
        self._prompt = system_prompt()

    @property
    def method(self) -> Method:
        """A model's answer (a fallback answer carries its own method)."""
        return Method.AI_CLASSIFIER

    @property
    def model_version(self) -> str:
        """The provider's model and the prompt's version."""
        return f"{self._settings.model}+{PROMPT_VERSION}"

    def close(self) -> None:
        """Closes the HTTP client's connections."""
        self._client.close()

    def classify(self, text: str) -> Classification:
        """The provider's labels for `text` (cached by content), else the fallback's."""
        key = self._key(text)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            usable = self._clock() >= self._resting_until and self._budget.allows()
        if not usable:
            return self._fallback.classify(text)
        try:
            found = self._ask(text)
        except ProviderError as exc:
            self._failed(exc)
            return self._fallback.classify(text)
        with self._lock:
            self._failures = 0
            if self._settings.cache_size:
                self._cache[key] = found
                while len(self._cache) > self._settings.cache_size:
                    self._cache.popitem(last=False)
        return found

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        """One classification per text, each asked (or cached) on its own."""
        return [self.classify(text) for text in texts]

    def _key(self, text: str) -> str:
        material = "\0".join((self._settings.model, PROMPT_VERSION, text))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _failed(self, exc: ProviderError) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self._settings.failure_threshold:
                self._resting_until = self._clock() + self._settings.cooldown_seconds
                self._failures = 0
        log.warning("q2q.provider_failed", reason=str(exc), model=self._settings.model)

    def _ask(self, text: str) -> Classification:
        body = {
            "model": self._settings.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": self._prompt}, {"role": "user", "content": text}],
        }
        try:
            response = self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != httpx.codes.OK:
            raise ProviderError(f"HTTP {response.status_code}")
        content, tokens = _content(response)
        with self._lock:
            self._budget.spend(tokens or (len(self._prompt) + len(text) + len(content)) // _CHARS_PER_TOKEN)
        return self._classification(text, _reply(content))

    def _classification(self, text: str, reply: _Reply) -> Classification:
        evidence: list[Evidence] = []
        confidence: dict[Label, float] = {}
        for item in reply.labels:
            label = _label(item.label)
            span = _locate(text, item.evidence)
            if label is None or span is None or not 0.0 <= item.confidence <= 1.0:
                continue
            start, end = span
            evidence.append(Evidence(label, text[start:end], start, end, f"{self._settings.model}: quoted"))
            confidence[label] = max(confidence.get(label, 0.0), round(item.confidence, 3))
        labels = tuple(sorted(confidence, key=_ORDER.__getitem__))
        return Classification(labels, confidence, tuple(evidence), self.method, self.model_version)


def _content(response: httpx.Response) -> tuple[str, int]:
    """The first choice's message text and the reply's total tokens (0 when it gives none)."""
    try:
        body = response.json()
        content = body["choices"][0]["message"]["content"]
        usage = body.get("usage") or {}
        tokens = usage.get("total_tokens", 0)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ProviderError("the reply is not a chat completion") from exc
    if not isinstance(content, str):
        raise ProviderError("the reply's message has no text")
    return content, tokens if isinstance(tokens, int) and tokens > 0 else 0


def _reply(content: str) -> _Reply:
    try:
        return _Reply.model_validate(json.loads(content))
    except (ValueError, ValidationError) as exc:
        raise ProviderError("the reply is not the asked JSON object") from exc


def _label(code: str) -> Label | None:
    try:
        return Label(code.strip())
    except ValueError:
        return None


def _locate(text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` stands in `text` (exactly, else ignoring case); None when it is not there."""
    quote = quote.strip()
    if not quote:
        return None
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    folded, folded_quote = text.casefold(), quote.casefold()
    # Case folding can change lengths (ß -> ss): only a fold of the same length maps back to the text.
    start = folded.find(folded_quote)
    if start < 0 or len(folded) != len(text):
        return None
    return start, start + len(folded_quote)
