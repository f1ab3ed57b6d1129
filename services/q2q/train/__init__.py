"""Training of the Q2Q classifier: `python -m services.q2q.train` (corpus from the phrase banks, then the model)."""
