"""Writes of client data: run upserts, file_stream payloads and uploaded files."""
