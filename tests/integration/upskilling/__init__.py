"""Integration tests of the upskilling connector."""
