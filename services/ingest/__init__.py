"""The ingest service: verify platform webhooks, normalize them, dedupe, produce to Kafka.

``app.py`` wires the HTTP routes and the request pipeline; ``wire.py`` reads bodies, parses JSON
and renders answers and records; ``signatures.py`` holds each platform's signature scheme and
``verifiers.py`` the verifiers built from the settings (Discourse instances bound to secrets);
``adapters/`` the per-platform mapping tables; ``producer.py`` the acks=all Kafka producer bridged
to asyncio; ``dedupe.py`` the Redis delivery-id memory. The community simulator behind
``make demo`` is a development tool outside the service (``tools/simulator/``).
"""
