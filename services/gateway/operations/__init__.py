"""The platform operators' admin RPCs: dead letters."""
