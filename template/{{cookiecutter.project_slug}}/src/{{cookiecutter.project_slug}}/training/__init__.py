"""Training: the estimator and its tuning, the cost-minimising decision threshold, the
held-out evaluation (metrics, slices, fairness, calibration), its figures, the model card
and per-row explanations."""
