"""Kubernetes manifests generated from tilt.yaml and the trust policy (`teei deploy render`)."""
