"""The Buddy programme domain: plain Python, no persistence or transport."""
