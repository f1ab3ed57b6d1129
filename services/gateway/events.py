"""Where the gateway's domain events will become envelopes: it emits none yet (privacy requests will,
through the outbox its migration 0004 created)."""
