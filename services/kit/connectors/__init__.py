"""What the three connectors share: CSV schemas and import batches."""
