"""Job and resource names shared with ``sensors`` and ``api_bridge``."""

SYNC_S3_OBJECT_JOB = "sync_s3_object_job"
FETCH_S3_OBJECT_OP = "fetch_s3_object_op"
