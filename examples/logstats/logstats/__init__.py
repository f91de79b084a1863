"""Per-endpoint statistics from web server access logs."""

from logstats.aggregate import EndpointStats, dedupe, endpoint_of, endpoint_stats, percentile
from logstats.parse import Request, parse_line, parse_lines
from logstats.report import render_report, top_endpoints
from logstats.summary import Summary, summarize

__all__ = [
    "EndpointStats",
    "Request",
    "Summary",
    "dedupe",
    "endpoint_of",
    "endpoint_stats",
    "parse_line",
    "parse_lines",
    "percentile",
    "render_report",
    "summarize",
    "top_endpoints",
]

__version__ = "0.4.2"
