"""The ingest service: verify platform webhooks, normalize them, dedupe, produce to Kafka.

``app.py`` wires the HTTP routes; ``signatures.py`` holds each platform's signature scheme;
``adapters/`` the per-platform mapping tables; ``producer.py`` the acks=all Kafka producer bridged
to asyncio; ``dedupe.py`` the Redis delivery-id memory; ``simulator.py`` the community simulator
behind ``make demo``.
"""
