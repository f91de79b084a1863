from __future__ import annotations

import json
from pathlib import Path

from eventlog import Event, export_events, from_json_line, select, to_json_line
from eventlog.manifest import read_manifest
from eventlog.partition import day_of, partition_path, safe_name

DAY = 1_714_521_600  # 2024-05-01T00:00:00Z


def ev(i: int, ts: int, kind: str = "login", user: str = "u1", **data: object) -> Event:
    return Event(i, ts, kind, user, dict(data))


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_json_line_round_trip_keeps_unicode() -> None:
    e = ev(7, DAY, "paiement", "zoë", note="café ☕", amount=12)
    line = to_json_line(e)
    assert line.endswith("\n") and "café ☕" in line
    assert line == (
        '{"data":{"amount":12,"note":"café ☕"},"id":7,"kind":"paiement","ts":1714521600,'
        '"user":"zoë"}\n'
    )
    assert from_json_line(line) == e


def test_partition_paths() -> None:
    assert day_of(DAY - 1) == "2024-04-30"
    assert partition_path(ev(1, DAY, "password reset")) == "2024-05-01/password_reset.jsonl"
    assert safe_name("paiement/carte") == "paiement_carte"
    assert safe_name("..") == "_"


def test_export_partitions_and_keeps_order(tmp_path: Path) -> None:
    events = [
        ev(1, DAY + 10, "login"),
        ev(2, DAY - 5, "login"),
        ev(3, DAY + 20, "payment", amount=5),
        ev(4, DAY + 30, "login", user="ünïcode"),
        ev(5, DAY + 30, "login"),
    ]
    result = export_events(events, tmp_path)
    assert result.events == 5
    assert [f[0] for f in result.files] == [
        "2024-04-30/login.jsonl",
        "2024-05-01/login.jsonl",
        "2024-05-01/payment.jsonl",
    ]
    lines = read_lines(tmp_path / "2024-05-01/login.jsonl")
    assert [from_json_line(x).id for x in lines] == [1, 4, 5]
    assert from_json_line(lines[1]).user == "ünïcode"


def test_duplicate_events_are_all_written(tmp_path: Path) -> None:
    e = ev(1, DAY)
    result = export_events([e, e, e], tmp_path)
    (entry,) = result.files
    assert entry[1] == 3
    assert read_lines(tmp_path / entry[0]) == [to_json_line(e).rstrip("\n")] * 3


def test_manifest_matches_files(tmp_path: Path) -> None:
    result = export_events([ev(1, DAY), ev(2, DAY, "logout")], tmp_path)
    assert read_manifest(tmp_path) == list(result.files)
    for path, lines, size, _ in result.files:
        data = (tmp_path / path).read_bytes()
        assert (data.count(b"\n"), len(data)) == (lines, size)
    payload = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert [e["path"] for e in payload] == ["2024-05-01/login.jsonl", "2024-05-01/logout.jsonl"]


def test_export_replaces_previous_export(tmp_path: Path) -> None:
    first = export_events([ev(1, DAY), ev(2, DAY + 86_400, "logout")], tmp_path)
    again = export_events([ev(1, DAY), ev(2, DAY + 86_400, "logout")], tmp_path)
    assert first == again
    smaller = export_events([ev(9, DAY, "payment")], tmp_path)
    assert [f[0] for f in smaller.files] == ["2024-05-01/payment.jsonl"]
    assert not (tmp_path / "2024-05-01/login.jsonl").exists()
    assert not (tmp_path / "2024-05-02/logout.jsonl").exists()


def test_export_nothing(tmp_path: Path) -> None:
    out = tmp_path / "new" / "folder"
    result = export_events(iter([]), out)
    assert result.events == 0 and result.files == ()
    assert read_manifest(out) == []


def test_export_accepts_a_generator(tmp_path: Path) -> None:
    events = (ev(i, DAY + i, "login" if i % 2 else "logout") for i in range(10))
    result = export_events(events, tmp_path)
    assert result.events == 10
    assert sorted(f[1] for f in result.files) == [5, 5]


def test_select() -> None:
    events = [ev(1, 10, "login", "a"), ev(2, 20, "logout", "b"), ev(3, 30, "login", "b")]
    assert [e.id for e in select(events, kinds={"login"})] == [1, 3]
    assert [e.id for e in select(events, users=["b"], since=20, until=30)] == [2]
    assert list(select([], kinds={"x"})) == []
