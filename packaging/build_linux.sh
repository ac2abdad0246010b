#!/usr/bin/env bash
# Builds the Linux deliverables of Streamdesk and proves they work:
#   dist/streamdesk/                              one-folder bundle (streamdesk + streamdesk-stub)
#   dist/streamdesk-<version>-linux-x86_64.tar.gz  the bundle + desktop entry, icons, metainfo
#   dist/streamdesk_<version>_amd64.deb             installs to /opt/streamdesk, /usr/bin links
# then runs packaging/verify_packages.py on all three (version, stub, headless self-test, package
# contents, an unpacked .deb and tarball run from a temporary folder).
#
# Prints how long each step took and the sizes; the whole run takes about 3 minutes on 2 cores.
# Needs: the project venv (.venv, made by scripts/setup), dpkg-deb and objdump (Debian: dpkg,
# binutils). Installs the `build` extra's PyInstaller pin into .venv when missing.
# Options: --no-verify (build only), --keep-build (reuse PyInstaller's work folder).
set -euo pipefail
cd "$(dirname "$0")/.."

verify=1
clean=--clean
for arg in "$@"; do
    case "$arg" in
        --no-verify) verify=0 ;;
        --keep-build) clean= ;;
        *) echo "usage: packaging/build_linux.sh [--no-verify] [--keep-build]" >&2; exit 2 ;;
    esac
done

if [ ! -x .venv/bin/python ]; then
    echo "No .venv: run scripts/setup first (scripts/build_bundle does both)." >&2
    exit 2
fi
. .venv/bin/activate
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"

for tool in dpkg-deb objdump; do
    command -v "$tool" >/dev/null || { echo "build_linux.sh needs $tool (apt-get install dpkg binutils)" >&2; exit 2; }
done

step_start=$SECONDS
mkdir -p build
report=build/build-report.txt
: > "$report"
step() {
    echo "== $1 (+$((SECONDS - step_start)) s)"
    echo "+$((SECONDS - step_start)) s  $1" >> "$report"
}

# The PyInstaller pin lives in pyproject.toml's `build` extra; install exactly that.
pin=$(python - <<'PY'
import tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["build"]
print(" ".join(extra))
PY
)
if ! python - "$pin" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for req in sys.argv[1].split():
    name, _, want = req.partition("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if want and have != want:
        sys.exit(1)
PY
then
    step "installing the build extra: $pin"
    python -m pip install --quiet $pin 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
fi

# Icons first: on Windows and macOS the spec embeds the rendered PNG in the executables.
step "icons: build/icons"
rm -rf build/icons
python packaging/render_icons.py build/icons || echo "   (continuing without icons)"

step "PyInstaller: dist/streamdesk"
rm -rf dist/streamdesk
pyinstaller --noconfirm $clean --log-level WARN \
    --workpath build/pyinstaller --distpath dist packaging/streamdesk.spec

step "tarball and .deb: dist/"
rm -f dist/streamdesk-*-linux-x86_64.tar.gz dist/streamdesk_*_amd64.deb
python packaging/make_packages.py dist/streamdesk build/icons dist

if [ "$verify" = 1 ]; then
    step "verifying"
    python packaging/verify_packages.py dist
fi
step "done"
