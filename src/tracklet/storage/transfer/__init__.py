"""Moving a deployment's data out and in: the export folder (:mod:`.layout`), written by
:func:`export_projects` and read by :func:`import_folder`."""

from tracklet.storage.transfer.export import ExportReport, export_projects
from tracklet.storage.transfer.importer import ImportReport, import_folder

__all__ = ["ExportReport", "ImportReport", "export_projects", "import_folder"]
