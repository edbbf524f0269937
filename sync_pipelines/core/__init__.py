"""Pure core of the pipeline: parsing, chunking, chunk identity, embedding.

Nothing in this package imports Dagster; ops call these functions.
"""
