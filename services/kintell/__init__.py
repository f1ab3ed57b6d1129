"""The kintell service."""
