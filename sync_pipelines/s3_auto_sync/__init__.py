"""S3 auto-sync: list a source's bucket in passes and queue invocations for what changed.

``listing`` talks to S3 (ListObjectsV2 pages, sidecar reads), ``scan`` compares what a page
lists with the catalog's per-object state and creates the invocations. The Dagster sensor
(``sensors/s3_auto_sync.py``) only loops over the sources and keeps the cursor.
"""
