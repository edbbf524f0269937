"""One outbound policy for every URL a user supplies (web, git, S3).

Checked when a source is created and again where each connection is opened.
"""
