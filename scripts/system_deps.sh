#!/bin/sh
# System packages the test suite uses, installed when missing (part of `make test`).
# bubblewrap gives the local sandbox its isolation; chromium is the browser the web app's
# browser tests drive. Without either, the tests needing it are skipped. Quiet and quick
# when everything is there; never fatal, so tests still run without them.
set -u

missing=""
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    missing="$missing chromium"
fi
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    for pkg in $missing; do
        echo "note: $pkg is missing and installing needs root; the tests that need it will" \
            "be skipped. Install it with: sudo apt-get install $pkg" >&2
    done
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    for pkg in $missing; do
        echo "note: $pkg is missing and there is no apt-get; the tests that need it will be" \
            "skipped. Install $pkg with your package manager." >&2
    done
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
updated=no
apt_install() {
    apt-get install -y -q --no-install-recommends "$1" >>"$log" 2>&1
}
# The package lists may be missing or stale on a fresh machine: refresh only if needed, once.
apt_update() {
    [ "$updated" = no ] || return 1
    updated=yes
    apt-get update -q >>"$log" 2>&1
}
for pkg in $missing; do
    if apt_install "$pkg" || { apt_update && apt_install "$pkg"; }; then
        echo "installed $pkg for the tests that need it" >&2
    else
        tail -n 20 "$log" >&2
        echo "warning: could not install $pkg; the tests that need it will be skipped." >&2
    fi
done
exit 0
