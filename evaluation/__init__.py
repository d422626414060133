"""Evaluation stage: metrics, calibration, action thresholds, functional suite, slices, report, promotion gate."""
