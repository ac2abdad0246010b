"""The Qt-free core of Streamdesk.

It owns SSE decoding, the provider wire formats, the streaming state machine,
storage and secrets. It must never import PySide6, qasync or ``desktop_app.qt``
(an import-linter contract in pyproject.toml keeps that true), so the command
line and the GUI share every line of it.
"""
