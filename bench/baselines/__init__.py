"""Baselines the classifier and ingest are held against, measured in the same run.

* :mod:`bench.baselines.bare_faust` — a Faust agent that only iterates the stream (the ceiling);
* :mod:`bench.baselines.naive` — the classifier's Lua step, one Redis round trip per event;
* :mod:`bench.baselines.empty_200` — Starlette + uvicorn answering an empty 200.
"""
