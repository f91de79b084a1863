from __future__ import annotations

from logscrub import LogLine, level_counts, parse_line


def test_parse_line() -> None:
    assert parse_line("2024-05-01T10:00:00.123Z WARNING api.gw slow request\n") == LogLine(
        "2024-05-01T10:00:00.123Z", "WARN", "api.gw", "slow request"
    )
    assert parse_line("    at Foo.bar(Foo.java:12)") is None


def test_level_counts() -> None:
    lines = [
        "2024-05-01T10:00:00Z INFO api ok",
        "2024-05-01T10:00:01Z ERROR api boom",
        "  traceback line",
        "2024-05-01T10:00:02Z INFO worker ok",
    ]
    assert level_counts(lines) == {"INFO": 2, "ERROR": 1}
