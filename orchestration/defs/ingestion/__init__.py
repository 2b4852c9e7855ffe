"""Raw data in: the whole log (generated or a file) and landed daily files."""
