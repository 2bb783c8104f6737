# Sourced by run.sh and test.sh: make sure .venv exists and has the project installed with `extra`.
# Usage: ensure_venv "" | ensure_venv dev   (needs a `say` function; re-installs only when pyproject.toml changed)

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

ensure_venv() {
    local extra=$1 python target stamp
    if [ ! -x .venv/bin/python ]; then
        python=$(find_python) || exit 1
        say "creating .venv with $python"
        "$python" -m venv .venv
    fi
    stamp=.venv/.improv-installed${extra:+-$extra}
    target=.${extra:+[$extra]}
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        say "installing ${extra:+the $extra extra and }the project (the first time takes a minute or two)"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
        touch "$stamp"
        # the dev install includes everything run.sh needs
        [ "$extra" = dev ] && touch .venv/.improv-installed
    fi
    return 0
}
