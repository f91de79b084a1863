from datetime import datetime, timezone

from logstats.aggregate import EndpointStats
from logstats.report import render_report, top_endpoints
from logstats.summary import Summary


def stats(name, requests, errors=0):
    return EndpointStats(name, requests, errors, 12, 40, 3, 1000)


def test_top_endpoints_breaks_ties_by_name():
    table = {s.endpoint: s for s in [stats("/b", 5), stats("/c", 9), stats("/a", 5)]}
    assert [s.endpoint for s in top_endpoints(table)] == ["/c", "/a", "/b"]
    assert [s.endpoint for s in top_endpoints(table, 1)] == ["/c"]


def test_render_report():
    summary = Summary(
        lines=10,
        parsed=9,
        malformed=1,
        duplicates=2,
        endpoints={"/health": stats("/health", 2), "/users/:id": stats("/users/:id", 5, 1)},
        busiest_minute=(datetime(2024, 3, 4, 9, 1, tzinfo=timezone.utc), 4),
    )
    assert render_report(summary).splitlines() == [
        "lines: 10  parsed: 9  malformed: 1  duplicates: 2",
        "busiest minute: 2024-03-04 09:01 UTC (4 requests)",
        "endpoint                           reqs   err%      p50      p95    ips      bytes",
        "----------------------------------------------------------------------------------",
        "/users/:id                            5  20.0%    12 ms    40 ms      3       1000",
        "/health                               2   0.0%    12 ms    40 ms      3       1000",
    ]


def test_render_report_without_durations():
    summary = Summary(1, 1, 0, 0, {"/": EndpointStats("/", 1, 0, None, None, 1, 0)}, None)
    assert render_report(summary).splitlines()[-1].split() == ["/", "1", "0.0%", "-", "-", "1", "0"]
