"""Sensors that start sync runs, registered by ``sync_pipelines.definitions``.

Imports flow one way: this package imports ``sync_pipelines``, never the reverse, except that
``sync_pipelines/definitions.py`` collects :data:`ALL_SENSORS`.
"""

import dagster as dg

from sensors.git_branches import git_branch_sensor
from sensors.invocations import invocation_sensor
from sensors.reconciler import invocation_reconciler
from sensors.run_status import invocation_run_canceled_sensor, invocation_run_failure_sensor
from sensors.s3_auto_sync import s3_auto_sync_sensor
from sensors.schedules import source_schedule_sensor

ALL_SENSORS: list[dg.SensorDefinition] = [
    invocation_sensor,
    invocation_run_failure_sensor,
    invocation_run_canceled_sensor,
    invocation_reconciler,
    git_branch_sensor,
    s3_auto_sync_sensor,
    source_schedule_sensor,
]
