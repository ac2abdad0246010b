#!/usr/bin/env bash
# Install the built .deb the way a user does (apt resolves its Depends from the
# archive), prove the installed app on a real X server, then remove it again.
# This is the one check that shows the .deb's Depends are enough for the xcb
# platform plugin on a machine that had none of them (verify_packages.py skips
# its own Xvfb run where they are missing, since it installs nothing).
#
# Needs root, apt-get and xvfb-run; says why and exits 0 without them, so a
# developer's machine is never changed by surprise. Usage: packaging/check_deb_install.sh [DIST]
set -euo pipefail
cd "$(dirname "$0")/.."
dist="${1:-dist}"
deb=$(ls "$dist"/streamdesk_*_amd64.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    echo "check_deb_install: no .deb in $dist (run scripts/build_bundle first)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || ! command -v xvfb-run >/dev/null; then
    echo "check_deb_install: skipped (needs root, apt-get and xvfb-run)"
    exit 0
fi
if dpkg-query --show --showformat='${db:Status-Status}' streamdesk 2>/dev/null | grep -qx installed; then
    echo "check_deb_install: a streamdesk package is already installed here; not touching it" >&2
    exit 1
fi

echo "== apt-get install $deb"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "$(realpath "$deb")" >/dev/null
trap 'echo "== apt-get purge streamdesk"; apt-get purge -y -qq streamdesk >/dev/null' EXIT

failed=0
check() { # check WHAT COMMAND...: runs it, prints ok/FAIL and its output's tail on failure
    local what=$1; shift
    local out
    if out=$("$@" 2>&1); then
        echo "  ok   $what"
        if [ -n "$out" ]; then printf '%s\n' "$out" | tail -n 3 | sed 's/^/       | /'; fi
    else
        echo "  FAIL $what (exit $?)"
        printf '%s\n' "$out" | tail -n 15 | sed 's/^/       | /'
        failed=1
    fi
}
check "installed: /usr/bin/streamdesk --version" /usr/bin/streamdesk --version
check "installed: desktop entry in /usr/share/applications" \
    test -f /usr/share/applications/io.streamdesk.Streamdesk.desktop
check "installed: streamdesk --self-test on Xvfb (xcb platform plugin, Depends from apt)" \
    env QT_QPA_PLATFORM=xcb timeout 180 xvfb-run --auto-servernum /usr/bin/streamdesk --self-test
if [ "$failed" != 0 ]; then
    echo "check_deb_install: the installed .deb failed" >&2
    exit 1
fi
echo "check_deb_install: the installed .deb works"
