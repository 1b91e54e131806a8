"""Dagster definitions for shoplake's own graph: assets, contract checks, schedules, sensors.

Dagster is imported only here (and only when orchestration is used), never by the CLI's import.
"""
