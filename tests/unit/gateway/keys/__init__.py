"""Unit tests of the gateway's key ring."""
