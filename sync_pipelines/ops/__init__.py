"""Dagster ops: thin wrappers that call the pure core and report counts as metadata."""
