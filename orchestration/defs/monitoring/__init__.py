"""Monitoring: what the online service did, loaded into the warehouse."""
