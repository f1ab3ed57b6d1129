"""Telemetry: traces, metrics and error reports."""
