#!/usr/bin/env bash
# README command 1: install into .venv, migrate the embedded SQLite database, then run the bot when
# DISCORD_TOKEN is set, otherwise the offline console demo. Safe to re-run; fast once installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'run: %s\n' "$*" >&2; }

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    say "needs Python 3.11, 3.12 or 3.13 (set PYTHON=/path/to/python)"
    return 1
}

if [ ! -x .venv/bin/python ]; then
    python=$(find_python)
    say "creating .venv with $python"
    "$python" -m venv .venv
fi

stamp=.venv/.improv-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "installing (the first time takes a minute or two)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
    touch "$stamp"
fi

IMPROV_LOG_LEVEL=${IMPROV_LOG_LEVEL:-WARNING} .venv/bin/improv migrate

if [ -n "${DISCORD_TOKEN:-}" ]; then
    exec .venv/bin/improv run
fi
say "DISCORD_TOKEN is not set: running the offline console demo (examples/demo.txt)"
exec .venv/bin/improv console --script examples/demo.txt
