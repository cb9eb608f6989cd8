"""Test harness shared by the suite: an in-process app client and protocol helpers."""
