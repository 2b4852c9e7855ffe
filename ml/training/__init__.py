"""The training pipeline: model families, model selection, evaluation, slices and the gate."""
