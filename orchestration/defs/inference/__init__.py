"""The inference pipeline: batch scoring with the champion, and the published snapshot."""
