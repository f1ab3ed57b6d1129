"""Unit tests of the gateway's SSO package."""
