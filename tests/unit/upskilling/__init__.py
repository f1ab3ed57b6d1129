"""Unit tests of the upskilling connector."""
