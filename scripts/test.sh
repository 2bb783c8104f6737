#!/usr/bin/env bash
# README command 2: install the dev extra into .venv, make sure PostgreSQL and Redis answer (starting or,
# as root with apt-get, installing local servers) and that headless Chromium is there (apt-get install
# chromium as root), then run ruff, mypy and the whole pytest suite.
# Extra arguments go to pytest. Under CI=true a service or browser that is missing is a failure, never a skip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'test: %s\n' "$*" >&2; }
die() {
    printf 'test: ERROR: %s\n' "$*" >&2
    exit 1
}

export IMPROV_TEST_DATABASE_URL=${IMPROV_TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/improv_test}
export IMPROV_TEST_REDIS_URL=${IMPROV_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
CI=${CI:-}

# --- virtualenv and dev install ------------------------------------------------------------------------
source scripts/venv.sh
ensure_venv dev
PY=.venv/bin/python

# --- services ------------------------------------------------------------------------------------------
# host and port of a URL, space separated
host_port() {
    "$PY" -c 'import sys; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1]); print(u.hostname or "127.0.0.1", u.port or int(sys.argv[2]))' "$1" "$2"
}

# whether something accepts TCP connections at host port
reachable() {
    "$PY" -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)' "$1" "$2"
}

# wait up to 30 s for host port
wait_for() {
    local i
    for i in $(seq 60); do
        reachable "$1" "$2" && return 0
        sleep 0.5
    done
    return 1
}

is_local() { [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ] || [ "$1" = ::1 ]; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then
        say "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

trust_local_postgres() {
    local hba
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
        [ -f "$hba" ] || continue
        if ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
            say "allowing passwordless connections from 127.0.0.1 in $hba"
            sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        fi
    done
    pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload 2>/dev/null || true
}

pg_version() { ls /etc/postgresql | sort -V | tail -n 1; }

start_postgres() {
    local version
    version=$(pg_version)
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

ensure_postgres() {
    local host port
    read -r host port < <(host_port "$IMPROV_TEST_DATABASE_URL" 5432)
    reachable "$host" "$port" && return 0
    if is_local "$host"; then
        if ! { command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; }; then
            if can_apt; then
                apt_install postgresql
                trust_local_postgres
            else
                say "PostgreSQL is not installed (install it, or run as root with apt-get to let this script do it)"
            fi
        fi
        if command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
            start_postgres && wait_for "$host" "$port" && return 0
        fi
    fi
    unavailable "PostgreSQL" "$host:$port"
}

ensure_redis() {
    local host port dir logdir
    read -r host port < <(host_port "$IMPROV_TEST_REDIS_URL" 6379)
    reachable "$host" "$port" && return 0
    if is_local "$host"; then
        if ! command -v redis-server >/dev/null 2>&1; then
            if can_apt; then
                apt_install redis-server
            else
                say "Redis is not installed (install redis-server, or run as root with apt-get to let this script do it)"
            fi
        fi
        if command -v redis-server >/dev/null 2>&1; then
            dir=/var/lib/redis
            logdir=/var/log/redis
            if ! { mkdir -p "$dir" "$logdir" 2>/dev/null && [ -w "$dir" ] && [ -w "$logdir" ]; }; then
                dir=${TMPDIR:-/tmp}/improv-test-redis
                logdir=$dir
                mkdir -p "$dir"
            fi
            say "starting Redis on port $port"
            redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no \
                --dir "$dir" --logfile "$logdir/ci.log" && wait_for "$host" "$port" && return 0
        fi
    fi
    unavailable "Redis" "$host:$port"
}

unavailable() {
    if [ "$CI" = true ]; then
        die "$1 is not reachable at $2, and CI=true requires it (the tests that need it would fail)"
    fi
    say "WARNING: $1 is not reachable at $2; the tests that need it will be skipped"
}

# headless Chromium for the site's browser tests (tests/web/test_site_browser.py): Debian's package, driven by
# Playwright for Python (the dev extra) at /usr/bin/chromium; no browser is downloaded from anywhere else
ensure_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    if can_apt; then
        apt_install chromium
        [ -x /usr/bin/chromium ] && return 0
    else
        say "Chromium is not installed (apt-get install chromium, or run as root with apt-get to let this script do it)"
    fi
    if [ "$CI" = true ]; then
        die "Chromium is not installed at /usr/bin/chromium, and CI=true requires it (the browser tests would fail)"
    fi
    say "WARNING: Chromium is not installed at /usr/bin/chromium; the browser tests will be skipped"
}

ensure_postgres
ensure_redis
ensure_chromium

# the test database itself (the fixtures create it too; doing it here surfaces auth problems early)
if ! "$PY" - <<'EOF'; then
import asyncio, os, sys
import asyncpg
from sqlalchemy.engine import make_url

url = make_url(os.environ["IMPROV_TEST_DATABASE_URL"])

async def main() -> None:
    conn = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username or "postgres",
                                 password=url.password, database="postgres", timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database):
            await conn.execute(f'CREATE DATABASE "{url.database}"')
            print(f"test: created database {url.database}", file=sys.stderr)
    finally:
        await conn.close()

try:
    asyncio.run(main())
except (OSError, asyncpg.PostgresError) as exc:
    print(f"test: cannot prepare the test database: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
EOF
    [ "$CI" = true ] && die "the PostgreSQL test database is not usable"
fi

# --- checks --------------------------------------------------------------------------------------------
failed=()
step() {
    local name=$1
    shift
    say "$name"
    "$@" || failed+=("$name")
}

step "ruff check" .venv/bin/ruff check .
step "ruff format --check" .venv/bin/ruff format --check .
step "mypy" .venv/bin/mypy
step "pytest" .venv/bin/pytest "$@"

if [ ${#failed[@]} -gt 0 ]; then
    die "failed: ${failed[*]}"
fi
say "all green"
