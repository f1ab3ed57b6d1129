"""The safety domain: text screening, flags and the review queue; plain Python, no persistence or transport."""
