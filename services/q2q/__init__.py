"""The q2q service."""
