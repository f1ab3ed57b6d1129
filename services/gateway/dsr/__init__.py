"""Data-subject requests: the worker that drives them through every service, and the export bundle."""
