"""The gateway's domain: signing-key ring, machine clients, access-token claims."""
