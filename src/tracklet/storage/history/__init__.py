"""Run history, system-metric events and console lines."""
