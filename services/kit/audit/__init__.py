"""The tamper-evident audit log every service appends to: hash-chained records, signed checkpoints, verification."""
