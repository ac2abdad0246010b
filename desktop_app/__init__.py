"""Streamdesk: a desktop chat client for language-model servers that stream SSE."""

from __future__ import annotations

__version__ = "0.1.0"
