"""Job and resource names shared with ``sensors`` and ``api_bridge``."""

SYNC_S3_OBJECT_JOB = "sync_s3_object_job"
FETCH_S3_OBJECT_OP = "fetch_s3_object_op"
SYNC_FILE_UPLOAD_JOB = "sync_file_upload_job"
FETCH_UPLOAD_OP = "fetch_upload_op"
SYNC_GITHUB_JOB = "sync_github_job"
FETCH_GITHUB_OP = "fetch_github_op"
INVOCATION_SENSOR = "invocation_sensor"

INVOCATION_TAG = "chroma_sync/invocation_id"
SOURCE_TAG = "chroma_sync/source_id"
DATABASE_TAG = "chroma_sync/database"
