"""The Q2Q domain: taxonomy, the rule-based classifier and label-to-score rules (plain Python)."""
