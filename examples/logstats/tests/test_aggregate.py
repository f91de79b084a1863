from datetime import datetime, timezone

import pytest

from logstats.aggregate import dedupe, endpoint_of, endpoint_stats, percentile, requests_per_minute
from logstats.parse import parse_line


def parse_all(lines):
    requests = [parse_line(text) for text in lines]
    assert all(r is not None for r in requests)
    return requests


def test_endpoint_of_collapses_ids_and_drops_queries():
    assert endpoint_of("/api/users/42") == "/api/users/:id"
    assert endpoint_of("/api/users/42/orders/?page=2") == "/api/users/:id/orders"
    assert endpoint_of("/api/products/9f86d081884c7d65") == "/api/products/:id"
    assert endpoint_of("/files/123e4567-e89b-12d3-a456-426614174000#top") == "/files/:id"
    assert endpoint_of("/") == "/"
    assert endpoint_of("/?utm=x") == "/"
    assert endpoint_of("/static/app.3f9a1c.js") == "/static/app.3f9a1c.js"


def test_endpoint_paths_are_case_sensitive():
    assert endpoint_of("/Users/1") != endpoint_of("/users/1")


def test_dedupe_drops_repeats(line):
    a, b = parse_all([line(path="/a"), line(path="/b")])
    assert dedupe([a, b, a, a, b]) == [a, b]


def test_dedupe_keeps_first_seen_order_of_out_of_order_logs(line):
    # Two servers' batches interleave, so first-seen order is not time order.
    lines = [
        line(when="04/Mar/2024:09:00:07 +0000", path="/seven"),
        line(when="04/Mar/2024:09:00:02 +0000", path="/two"),
        line(when="04/Mar/2024:09:00:09 +0000", path="/nine"),
        line(when="04/Mar/2024:09:00:07 +0000", path="/seven"),
        line(when="04/Mar/2024:09:00:01 +0000", path="/one"),
        line(when="04/Mar/2024:09:00:02 +0000", path="/two"),
    ]
    unique = dedupe(parse_all(lines))
    assert [r.path for r in unique] == ["/seven", "/two", "/nine", "/one"]


def test_dedupe_keeps_entries_that_differ_in_any_field(line):
    requests = parse_all([line(status=200), line(status=500), line(size=7), line(duration=None)])
    assert len(dedupe(requests)) == 4


def test_dedupe_treats_same_instant_in_other_offsets_as_equal(line):
    # One request, logged by a server in UTC and shipped again by one in UTC+1.
    utc, cet = parse_all(
        [line(when="04/Mar/2024:09:00:00 +0000"), line(when="04/Mar/2024:10:00:00 +0100")]
    )
    assert dedupe([utc, cet]) == [utc]


def test_percentile_nearest_rank():
    values = [50, 15, 40, 20, 35]
    assert percentile(values, 50) == 35
    assert percentile(values, 30) == 20
    assert percentile(values, 95) == 50
    assert percentile(values, 100) == 50
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_endpoint_stats(line):
    requests = parse_all(
        [
            line(path="/users/1", ip="10.0.0.1", duration=30, size=10),
            line(path="/health", ip="10.0.0.9", duration=1, size=2),
            line(path="/users/2", ip="10.0.0.2", duration=10, status=503, size=0),
            line(path="/users/3?x=1", ip="10.0.0.1", duration=None, size=5),
        ]
    )
    stats = endpoint_stats(requests)
    assert list(stats) == ["/users/:id", "/health"]
    users = stats["/users/:id"]
    assert (users.requests, users.errors, users.visitors, users.bytes_sent) == (3, 1, 2, 15)
    assert (users.p50_ms, users.p95_ms) == (10, 30)
    assert users.error_rate == pytest.approx(1 / 3)


def test_requests_per_minute_buckets_in_utc(line):
    requests = parse_all(
        [
            line(when="04/Mar/2024:10:00:30 +0100"),
            line(when="04/Mar/2024:09:00:59 +0000"),
            line(when="04/Mar/2024:08:59:59 +0000"),
        ]
    )
    assert requests_per_minute(requests) == {
        datetime(2024, 3, 4, 8, 59, tzinfo=timezone.utc): 1,
        datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc): 2,
    }
