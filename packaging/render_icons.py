"""Render the app's SVG icon into the PNG sizes desktops look for (freedesktop hicolor theme).

Usage: ``python packaging/render_icons.py OUT_DIR [--svg PATH]`` writes
``OUT_DIR/hicolor/<N>x<N>/apps/<app id>.png`` for every size in ``SIZES``, the SVG itself under
``hicolor/scalable/apps/``, and ``OUT_DIR/streamdesk-256.png`` (what PyInstaller turns into .ico
or .icns on Windows and macOS). Rendering uses PySide6's QSvgRenderer on the offscreen platform,
so it needs no display and no new dependency. It must not touch the bundle itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_policy as policy

ROOT = Path(__file__).resolve().parent.parent
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def find_app_icon(root: Path = ROOT) -> Path | None:
    """The app's SVG icon in resources/, by the names the artwork may use; None if absent."""
    for name in policy.APP_ICON_CANDIDATES:
        path = root / name
        if path.is_file():
            return path
    return None


def render(svg: Path, out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Render ``svg`` at each size; returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {svg} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        target = out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{policy.APP_ID}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"render_icons: could not write {target}")
        written.append(target)
        if size == 256:
            shutil.copyfile(target, out_dir / "streamdesk-256.png")
    scalable = out_dir / "hicolor" / "scalable" / "apps" / f"{policy.APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable)
    written.append(scalable)
    del app  # keep the application alive until every image is painted
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--svg", type=Path, default=None, help="icon to render (default: found)")
    args = parser.parse_args(argv)
    svg = args.svg or find_app_icon()
    if svg is None:
        names = ", ".join(policy.APP_ICON_CANDIDATES)
        print(f"render_icons: no app icon found (looked for {names})", file=sys.stderr)
        return 1
    files = render(svg, args.out_dir)
    print(
        f"render_icons: {len(files)} icons from {svg.relative_to(ROOT) if svg.is_relative_to(ROOT) else svg}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
