"""Events: the envelope, the outbox relay and consumers on JetStream, dead letters."""
