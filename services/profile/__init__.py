"""The unified profile service."""
