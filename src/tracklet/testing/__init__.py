"""Helpers for testing against tracklet."""
