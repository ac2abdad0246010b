"""A mock SSE server speaking the OpenAI, Anthropic and a generic format, with scripted faults.

It shares no code with ``desktop_app``: the app only starts it as its offline default.
Entry points: ``server_stub.embedded.start_stub`` (in-process, a background thread) and the
``streamdesk-stub`` command (``server_stub.__main__``). See ``README.md`` in this folder.

Modules: ``app`` (routes) → ``handlers`` (request flow) → ``turn`` (format-neutral script, from
``scenarios`` + ``content`` + ``tokens``) → ``formats/`` (wire bytes) → ``streaming`` (timed
writes, paced by ``pacing``); ``resume`` keeps generic streams for ``Last-Event-ID``;
``replay`` (with ``replay_file``) serves recordings in front of the routes.
"""
