"""Bringing data over from other trackers: each importer writes an export folder
(:mod:`tracklet.storage.transfer.layout`) that ``import_folder`` loads."""
