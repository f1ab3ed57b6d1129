"""What the three connectors share: provenance and people, CSV imports and their batches, strict
webhook bodies, delivery replay checks and the proto forms of all of these."""
