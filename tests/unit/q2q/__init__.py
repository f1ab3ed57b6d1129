"""Unit tests of the Q2Q service."""
