"""Integration tests of the Q2Q service."""
