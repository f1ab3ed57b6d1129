"""Unit tests of the gateway's operations RPCs."""
