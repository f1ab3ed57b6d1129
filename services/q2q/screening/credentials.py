"""Whose token the retrier screens a waiting text with when there is no mTLS: the submitter's, kept in memory.

With mTLS the retrier acts for the text's company with its own service token (the trust policy
grants q2q ScreenText at Safety: services/q2q/screening/retrier.py). Without mTLS there is no service
identity, so the token of the RPC that submitted the text is kept here (memory only: never stored,
never logged) and used for that text alone until it expires; a text that outlives it stays awaiting
screening (nothing is lost) until it is submitted again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import jwt

from services.q2q.domain.model import SourceRef

Key = tuple[str, SourceRef]
# A token about to expire would be refused by Safety before the call lands.
EXPIRY_MARGIN_SECONDS = 5.0


class SubmitterTokens:
    """Bearer tokens by (company, source) of texts awaiting screening; at most `capacity`, oldest dropped."""

    def __init__(self, *, capacity: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self._tokens: OrderedDict[Key, tuple[str, float]] = OrderedDict()
        self._capacity, self._clock = capacity, clock
        self._lock = threading.Lock()

    def remember(self, key: Key, bearer: str | None) -> None:
        """Keeps `bearer` for the text `key` until the token's own expiry."""
        expires = _expiry(bearer) if bearer else None
        if bearer is None or expires is None:
            return
        with self._lock:
            self._tokens[key] = (bearer, expires)
            self._tokens.move_to_end(key)
            while len(self._tokens) > self._capacity:
                self._tokens.popitem(last=False)

    def bearer_for(self, key: Key) -> str | None:
        """The token to screen `key` with, or None when there is none still valid."""
        with self._lock:
            found = self._tokens.get(key)
            if found is None:
                return None
            if found[1] - EXPIRY_MARGIN_SECONDS <= self._clock():
                del self._tokens[key]
                return None
            return found[0]

    def forget(self, key: Key) -> None:
        """Drops the token of a text that no longer waits."""
        with self._lock:
            self._tokens.pop(key, None)

    def __len__(self) -> int:
        return len(self._tokens)


def _expiry(bearer: str) -> float | None:
    # Read, not verified: the token was validated when it arrived, and Safety validates it again.
    try:
        claims = jwt.decode(bearer, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    expires = claims.get("exp")
    return float(expires) if isinstance(expires, int | float) else None
