#!/bin/sh
# System packages the test suite uses, installed when missing (part of `make test`).
# bubblewrap gives the local sandbox its isolation; without it those tests are skipped.
# Quiet and quick when everything is there; never fatal, so tests still run without it.
set -u

if command -v bwrap >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "note: bubblewrap (bwrap) is missing and installing needs root; its tests will be" \
        "skipped. Install it with: sudo apt-get install bubblewrap" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: bubblewrap (bwrap) is missing and there is no apt-get; its tests will be" \
        "skipped. Install bubblewrap with your package manager." >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt_install() {
    apt-get install -y -q --no-install-recommends bubblewrap >>"$log" 2>&1
}
# The package lists may be missing or stale on a fresh machine: refresh only if needed.
if apt_install || { apt-get update -q >>"$log" 2>&1 && apt_install; }; then
    echo "installed bubblewrap for the sandbox tests" >&2
else
    tail -n 20 "$log" >&2
    echo "warning: could not install bubblewrap; its tests will be skipped." >&2
fi
exit 0
