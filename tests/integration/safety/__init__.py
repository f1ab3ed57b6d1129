"""gRPC and migration tests of the safety service."""
