"""Development tools: run from a checkout (``python -m tools.<name>``), never shipped in the image.

``tools/simulator/`` posts a simulated community to a running ingest service (``make demo``) and
feeds the ingest benchmark. Nothing under ``services/`` or ``invested/`` may import from here.
"""
