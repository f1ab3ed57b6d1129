"""The upskilling service."""
