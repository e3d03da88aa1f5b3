"""End-to-end echo benchmark: bolt's server beside websockets, aiohttp and picows.

Run ``python bench/echo/run.py`` (full) or ``python bench/echo/run.py --quick``; see bench/README.md.
"""
