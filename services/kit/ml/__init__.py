"""What the shipped linear classifiers share: artifact files read and written without pickle, and thresholds."""
