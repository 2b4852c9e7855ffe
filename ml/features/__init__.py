"""The feature pipeline's Python side: feature views read from dbt, point-in-time retrieval,
on-demand features, the quality gate that publishes features, and the online store."""
