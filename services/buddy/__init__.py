"""The buddy service."""
