"""Dagster resources: one per external system (Chroma, the catalog, the embedding model).

S3 uses ``dagster_aws.s3.S3Resource`` directly.
"""
