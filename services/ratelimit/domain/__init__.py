"""The rate-limit domain: limits, fixed windows and verdicts; plain Python, no transport or storage."""
