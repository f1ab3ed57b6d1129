"""The Kintell connector's domain: sessions, ratings, CSV schemas and webhook payloads (plain Python)."""
