"""Hostile and unlucky peers (issue 4): slow handshakes, oversized headers, clients that never read,
floods of pings, empty continuations and one-byte fragments, 10,000 idle connections, and churn.

Each test bounds what the server spends (CPU time, memory, open files, time to cut a peer) and
prints the figures it measured (``pytest tests/hostile -rP`` shows them; with
``BOLT_HOSTILE_FIGURES=file.jsonl`` each figure line is also appended to that file as JSON). The
hostile peers run in processes of their own (``flooder.py``, ``idle_clients.py``) and know nothing of
bolt; ``peers.py`` holds what the tests share.
"""
