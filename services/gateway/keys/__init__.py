"""The signing-key ring: key material, sealing at rest and the cached ring that signs."""
