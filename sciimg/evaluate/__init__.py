"""Metrics per task, plots, and the report."""
