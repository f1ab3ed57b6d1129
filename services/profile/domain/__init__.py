"""The unified-profile domain: plain Python, no persistence or transport."""
