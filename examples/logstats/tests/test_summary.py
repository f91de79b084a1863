from datetime import datetime, timezone

from logstats import render_report, summarize


def test_summarize_end_to_end(line):
    log = [
        line(ip="10.0.0.1", path="/users/1", when="04/Mar/2024:09:00:10 +0000"),
        line(ip="10.0.0.2", path="/users/2", when="04/Mar/2024:09:01:10 +0000", status=500),
        "not a log line\n",
        line(ip="10.0.0.1", path="/users/1", when="04/Mar/2024:09:00:10 +0000"),  # resent
        line(ip="10.0.0.3", path="/health", when="04/Mar/2024:10:01:20 +0100"),
        "\n",
    ]
    summary = summarize(log)
    assert (summary.lines, summary.parsed, summary.malformed, summary.duplicates) == (5, 4, 1, 1)
    assert summary.endpoints["/users/:id"].requests == 2
    assert summary.endpoints["/users/:id"].errors == 1
    assert summary.endpoints["/health"].visitors == 1
    # 09:00 UTC has one request (after dedupe), 09:01 UTC two (one logged in UTC+1).
    assert summary.busiest_minute == (datetime(2024, 3, 4, 9, 1, tzinfo=timezone.utc), 2)


def test_busiest_minute_prefers_the_earliest_on_ties(line):
    log = [
        line(when="04/Mar/2024:09:05:00 +0000", path="/late"),
        line(when="04/Mar/2024:09:02:00 +0000", path="/early"),
    ]
    minute, count = summarize(log).busiest_minute
    assert (minute.minute, count) == (2, 1)


def test_summarize_reads_its_input_once(line):
    lines = iter([line(path="/a"), line(path="/b"), line(path="/a")])
    summary = summarize(lines)
    assert summary.parsed == 3
    assert list(summary.endpoints) == ["/a", "/b"]


def test_empty_log():
    summary = summarize([])
    assert summary.endpoints == {}
    assert summary.busiest_minute is None
    assert render_report(summary).startswith("lines: 0  parsed: 0  malformed: 0  duplicates: 0\n")
