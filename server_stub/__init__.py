"""A mock SSE server speaking the OpenAI, Anthropic and a generic format, with scripted faults.

It shares no code with ``desktop_app``: the app only starts it as its offline default.
"""
