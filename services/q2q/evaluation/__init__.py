"""Evaluation of the classifier on labelled texts (`python -m services.q2q.evaluation`)."""
