"""Classifiers that a deployment may put in front of the local model: a model-backed provider behind the same
`Classifier` interface (optional, off by default; the local trained classifier is always the fallback)."""
