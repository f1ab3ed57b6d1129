"""Unit tests of the safety service."""
