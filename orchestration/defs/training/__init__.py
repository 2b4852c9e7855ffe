"""The training pipeline: select, fit, evaluate, register and gate the churn model."""
