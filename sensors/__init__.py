"""Sensors that start sync runs (S3 objects, git branches), registered by the definitions.

Imports flow one way: this package imports ``sync_pipelines``, never the reverse, except that
``sync_pipelines/definitions.py`` collects :data:`ALL_SENSORS`.
"""

import dagster as dg

ALL_SENSORS: list[dg.SensorDefinition] = []
