"""Screening through Safety before storing: the Safety client, held texts, submitter tokens and the retrier.

Classify with `store=true` calls Safety's ScreenText (not a dry run: Safety records flags and queues
reviews) as the calling end user (services.q2q.handlers.classify), then
- safe: the REDACTED text is classified and stored (`q2q.scores.computed`), `stored=true`;
- needs review: the redacted text is held exactly like an event-driven held text (released by
  `safety.review.completed`); the answer carries its scores, `stored=false`;
- unsafe: nothing is kept, `stored=false`.
FALLBACK: when Safety cannot answer (breaker open, bulkhead full, deadline exceeded, unavailable),
the request is still accepted: the text is kept in the held-text store AWAITING_SCREENING and the
answer is the text's scores with `stored=false`; the retrier (services.q2q.screening.retrier) screens
it once Safety answers and then stores, holds or drops it as above. Without a configured Safety,
storing fails closed: FAILED_PRECONDITION SCREENING_NOT_CONFIGURED, nothing kept.
`store=false` classifies in memory and keeps nothing: no screening call.
"""
