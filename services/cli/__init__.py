"""Operator tooling: the `teei` command (local mesh launcher and friends)."""
