#!/usr/bin/env bash
# README command 1: install into .venv, migrate the embedded SQLite database, then run the bot when
# DISCORD_TOKEN is set, otherwise the offline console demo. Safe to re-run; fast once installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'run: %s\n' "$*" >&2; }

source scripts/venv.sh
ensure_venv ""

IMPROV_LOG_LEVEL=${IMPROV_LOG_LEVEL:-WARNING} .venv/bin/improv migrate

if [ -n "${DISCORD_TOKEN:-}" ]; then
    exec .venv/bin/improv run
fi
say "DISCORD_TOKEN is not set: running the offline console demo (examples/demo.txt)"
exec .venv/bin/improv console --script examples/demo.txt
