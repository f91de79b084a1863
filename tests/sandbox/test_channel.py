"""The host's end of the in-container runner: stream framing, replies, death, timeouts."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading

import pytest

from perfsmith.sandbox.channel import RUNNER_SOURCE, Channel, decode_output


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_decode_output_says_what_was_dropped() -> None:
    b64 = base64.b64encode("tail é".encode()).decode()
    assert decode_output(b64, 0) == "tail é"
    assert decode_output(b64, 12) == "[... 12 bytes dropped ...]\ntail é"


def test_replies_split_across_frames_and_stderr_kept_apart() -> None:
    host, runner = socket.socketpair()
    ch = Channel(host)
    seen = []

    def serve() -> None:
        seen.append(json.loads(runner.recv(4096)))
        reply = json.dumps({"rc": 0, "out": "", "err": ""}).encode() + b"\n"
        runner.sendall(frame(2, b"a warning\n") + frame(1, reply[:5]) + frame(1, reply[5:]))

    t = threading.Thread(target=serve)
    t.start()
    assert ch.request({"argv": ["x"]}, timeout_s=10) == {"rc": 0, "out": "", "err": ""}
    t.join()
    assert seen == [{"argv": ["x"]}]
    assert ch.stderr == "a warning\n"
    ch.close()
    runner.close()


def test_two_replies_in_one_frame_are_delivered_in_order() -> None:
    host, runner = socket.socketpair()
    ch = Channel(host)
    runner.sendall(frame(1, b'{"rc": 1}\n{"rc": 2}\n'))
    assert ch.request({}, timeout_s=10) == {"rc": 1}
    assert ch.request({}, timeout_s=10) == {"rc": 2}
    ch.close()
    runner.close()


def test_no_reply_in_time_is_a_timeout() -> None:
    host, runner = socket.socketpair()
    ch = Channel(host)
    with pytest.raises(TimeoutError):
        ch.request({"argv": ["sleep"]}, timeout_s=0.2)
    ch.close()
    runner.close()


@pytest.mark.parametrize("tail", [b"", frame(1, b'{"rc": ')[:6]])
def test_a_dead_runner_gives_none(tail: bytes) -> None:
    host, runner = socket.socketpair()
    ch = Channel(host)
    runner.sendall(tail)
    runner.close()  # EOF, possibly in the middle of a frame
    assert ch.request({"argv": ["x"]}, timeout_s=10) is None


def test_the_runner_refuses_to_run_outside_a_sandbox() -> None:
    # Its kill(-1) after each command would reach every process of the user (or of the
    # machine, as root): it needs the marker the Docker sandbox sets, and a non-root uid.
    res = subprocess.run(
        [sys.executable, "-I", str(RUNNER_SOURCE)],
        input='{"argv": ["true"], "env": {}, "cwd": "/"}\n',
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode != 0
    assert "only inside a sandbox container" in res.stderr
    assert res.stdout == ""
