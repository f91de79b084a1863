"""Audit events: filtering and export to partitioned JSON-lines files."""

from eventlog.events import Event, from_json_line, to_json_line
from eventlog.exporter import ExportResult, export_events
from eventlog.filters import select

__all__ = ["Event", "ExportResult", "export_events", "from_json_line", "select", "to_json_line"]
