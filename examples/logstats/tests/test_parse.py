from datetime import datetime, timedelta, timezone

from logstats.parse import parse_line, parse_lines

COMBINED = (
    '203.0.113.9 - alice [10/Oct/2023:13:55:36 +0200] "GET /api/users/42?tab=posts HTTP/1.1" '
    '200 2326 "https://example.com/" "Mozilla/5.0 (X11)" 153\n'
)
COMMON = '198.51.100.7 - - [01/Jan/2024:00:00:05 +0000] "POST /login HTTP/1.0" 302 -'


def test_combined_line_with_duration():
    request = parse_line(COMBINED)
    assert request is not None
    assert request.ip == "203.0.113.9"
    assert request.user == "alice"
    assert request.method == "GET"
    assert request.path == "/api/users/42?tab=posts"
    assert request.protocol == "HTTP/1.1"
    assert request.status == 200
    assert request.size == 2326
    assert request.referrer == "https://example.com/"
    assert request.agent == "Mozilla/5.0 (X11)"
    assert request.duration_ms == 153


def test_common_line_without_optional_fields():
    request = parse_line(COMMON)
    assert request is not None
    assert request.user is None
    assert request.size == 0
    assert request.referrer is None
    assert request.agent is None
    assert request.duration_ms is None
    assert request.timestamp == datetime(2024, 1, 1, 0, 0, 5, tzinfo=timezone.utc)


def test_timestamp_keeps_the_servers_offset():
    line = COMMON.replace("+0000", "-0530")
    request = parse_line(line)
    assert request is not None
    assert request.timestamp.utcoffset() == -timedelta(hours=5, minutes=30)
    assert request.timestamp.astimezone(timezone.utc) == datetime(
        2024, 1, 1, 5, 30, 5, tzinfo=timezone.utc
    )
    assert request.timestamp.isoformat() == "2024-01-01T00:00:05-05:30"


def test_month_names_are_case_insensitive():
    request = parse_line(COMMON.replace("Jan", "jan"))
    assert request is not None
    assert request.timestamp.month == 1


def test_impossible_dates_are_malformed():
    for bad in ("31/Feb/2024", "00/Jan/2024", "01/Foo/2024"):
        assert parse_line(COMMON.replace("01/Jan/2024", bad)) is None
    assert parse_line(COMMON.replace("00:00:05", "24:00:05")) is None
    assert parse_line(COMMON.replace("00:00:05", "00:00:60")) is None
    assert parse_line(COMMON.replace("+0000", "+2400")) is None


def test_garbage_is_malformed():
    assert parse_line("GET /index.html") is None
    assert parse_line(COMBINED[:60]) is None
    assert parse_line(COMMON.replace('"POST', '"post')) is None


def test_parse_lines_skips_blank_lines_and_counts_malformed():
    requests, malformed = parse_lines(["", COMMON, "   \n", "nonsense", COMBINED])
    assert [r.method for r in requests] == ["POST", "GET"]
    assert malformed == 1
