"""gRPC integration tests of the Kintell connector."""
