"""Builds Safety's training corpus and trains its classifier (`python -m services.safety.train`)."""
