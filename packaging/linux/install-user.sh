#!/bin/sh
# Installs this unpacked Streamdesk folder for the current user, without root:
# links the two programs into ~/.local/bin and registers the desktop entry and
# icons under ~/.local/share. Run it again after moving the folder; run it with
# --uninstall to remove those links and files (the folder itself stays).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
app_id=io.streamdesk.Streamdesk
bin_dir="${XDG_BIN_HOME:-$HOME/.local/bin}"
data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$bin_dir/streamdesk" "$bin_dir/streamdesk-stub" \
        "$data_dir/applications/$app_id.desktop" "$data_dir/metainfo/$app_id.metainfo.xml"
    find "$data_dir/icons/hicolor" -name "$app_id.*" -delete 2>/dev/null || true
    echo "Streamdesk links removed; delete $here to remove the program."
    exit 0
fi

mkdir -p "$bin_dir" "$data_dir/applications" "$data_dir/metainfo"
ln -sf "$here/streamdesk" "$bin_dir/streamdesk"
ln -sf "$here/streamdesk-stub" "$bin_dir/streamdesk-stub"
# The desktop entry names the program by absolute path: ~/.local/bin is not on
# every desktop session's PATH.
sed -e "s|^Exec=streamdesk|Exec=$here/streamdesk|" -e "s|^TryExec=streamdesk|TryExec=$here/streamdesk|" \
    "$here/share/applications/$app_id.desktop" > "$data_dir/applications/$app_id.desktop"
cp "$here/share/metainfo/$app_id.metainfo.xml" "$data_dir/metainfo/"
if [ -d "$here/share/icons/hicolor" ]; then
    mkdir -p "$data_dir/icons"
    cp -R "$here/share/icons/hicolor" "$data_dir/icons/"
    command -v gtk-update-icon-cache >/dev/null 2>&1 &&
        gtk-update-icon-cache -q -t "$data_dir/icons/hicolor" 2>/dev/null || true
fi
command -v update-desktop-database >/dev/null 2>&1 &&
    update-desktop-database -q "$data_dir/applications" 2>/dev/null || true
echo "Streamdesk installed for $(id -un): run 'streamdesk' or find it in your applications menu."
case ":$PATH:" in *":$bin_dir:"*) ;; *) echo "Note: $bin_dir is not on your PATH." ;; esac
