"""Variants of the services, for measuring a candidate change before anyone edits the service.

``python -m bench --classifier-fetch-wait-ms 1500`` runs the classifier phase through
:mod:`bench.variants.fetch_wait` instead of ``python -m services.classifier``.
"""
