"""Benchmarks of the Invested pipeline (``make bench``; ``python -m bench --help``).

Never part of ``make test``: speed is measured here, on the embedded stack, and reported in the
README's Performance section; ``tests/test_bench_smoke.py`` only keeps the harness working.
"""
