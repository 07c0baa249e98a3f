"""The embedded Brood server: a Brood-compatible package repository that runs on one machine.

Install it with ``pip install hatcher[server]``; run it with ``hatcher server run`` or
start it in-process with :class:`hatcher.server.runner.EmbeddedBrood`.
"""
