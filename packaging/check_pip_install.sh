#!/usr/bin/env bash
# Proves `pip install .` (non-editable) and `pipx install .` give working `streamdesk` and
# `streamdesk-stub` commands, and that the wheel carries the package data (icons, style sheets).
# Everything happens in a temporary folder: nothing is installed for the user. pipx is used if it
# is on PATH, else installed into a throwaway venv from PyPI; --no-pipx skips that part.
# Usage: packaging/check_pip_install.sh [--no-pipx]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PYTHON="${PYTHON:-python3}"
with_pipx=1
[ "${1:-}" = "--no-pipx" ] && with_pipx=0

work=$(mktemp -d "${TMPDIR:-/tmp}/streamdesk-pipcheck.XXXXXX")
trap 'rm -rf "$work"' EXIT
quiet_pip() { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }
fail=0
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@" >"$work/out" 2>&1; then echo "  ok   $what"; else
        echo "  FAIL $what"; sed 's/^/       | /' "$work/out" | tail -15; fail=1; fi
}

echo "== wheel"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$repo" 2> >(quiet_pip)
wheel=$(ls "$work"/wheel/streamdesk-*.whl)
echo "  $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"
# Every run-time data file tracked inside the packages (and resources/) must be in the wheel.
"$PYTHON" - "$wheel" <<'PY' || fail=1
import subprocess, sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
tracked = subprocess.run(["git", "ls-files", "desktop_app", "server_stub", "resources"],
                         capture_output=True, text=True, check=True).stdout.split()
# Code is checked by running it below; Markdown notes for developers are not run-time data.
data = [f for f in tracked if not f.endswith((".py", ".pyi", ".md"))]
# resources/ is installed as the package desktop_app.resources (pyproject.toml, package-dir).
def in_wheel(f):
    return "desktop_app/" + f if f.startswith("resources/") else f
missing = [f for f in data if in_wheel(f) not in names]
for f in data:
    print(f"  {'ok  ' if f not in missing else 'FAIL'} wheel has {in_wheel(f)}")
if missing:
    print("  -> package data missing from the wheel (see packaging/README.md, 'pip and pipx')")
    sys.exit(1)
PY

echo "== pip install . (fresh venv)"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel" 2> >(quiet_pip)
check "streamdesk --version" "$work/venv/bin/streamdesk" --version
check "streamdesk-stub --help" "$work/venv/bin/streamdesk-stub" --help

if [ "$with_pipx" = 1 ]; then
    echo "== pipx install ."
    pipx=$(command -v pipx || true)
    if [ -z "$pipx" ]; then
        "$PYTHON" -m venv "$work/pipx-tool"
        "$work/pipx-tool/bin/python" -m pip install --quiet pipx 2> >(quiet_pip)
        pipx="$work/pipx-tool/bin/pipx"
    fi
    export PIPX_HOME="$work/pipx-home" PIPX_BIN_DIR="$work/pipx-bin" PIPX_MAN_DIR="$work/pipx-man"
    "$pipx" install --python "$PYTHON" "$repo" >"$work/pipx.log" 2>&1 || { cat "$work/pipx.log"; fail=1; }
    check "pipx: streamdesk --version" "$work/pipx-bin/streamdesk" --version
    check "pipx: streamdesk-stub --help" "$work/pipx-bin/streamdesk-stub" --help
fi

if [ "$fail" = 0 ]; then echo "pip and pipx installs work"; else echo "pip/pipx install check failed"; fi
exit "$fail"
