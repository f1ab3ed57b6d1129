"""Unit tests of the Kintell connector."""
