from __future__ import annotations

import pytest


def make_line(
    ip: str = "10.0.0.1",
    when: str = "04/Mar/2024:09:00:00 +0000",
    method: str = "GET",
    path: str = "/",
    status: int = 200,
    size: int = 100,
    duration: int | None = 10,
) -> str:
    tail = "" if duration is None else f' "-" "test-agent" {duration}'
    return f'{ip} - - [{when}] "{method} {path} HTTP/1.1" {status} {size}{tail}\n'


@pytest.fixture
def line():
    return make_line
