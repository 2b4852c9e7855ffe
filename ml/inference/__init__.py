"""The inference pipeline: batch scoring, online serving, and what is published for readers."""
