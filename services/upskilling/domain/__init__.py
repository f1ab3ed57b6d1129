"""The upskilling domain: normalised course progress and credentials, plain Python."""
