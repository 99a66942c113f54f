"""`python -m services.ingest`: start the ingest service.

Garbage collection is tuned for a request-serving process: everything alive after start-up
(modules, settings, verifiers) is frozen out of the collector's scans, and the young generation
is collected every ``GC_GEN0_THRESHOLD`` allocations instead of 700 (a request allocates a few
hundred objects; at the default, objects of requests in flight were promoted and rescanned by
older-generation collections, about 5% of the CPU under load).
"""

import gc

from invested.service import boot, main_guarded, serve_http
from services.ingest.app import create_app

GC_GEN0_THRESHOLD = 5000


def main() -> None:
    settings = boot("ingest")
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 10, 10)
    serve_http(app, settings, settings.ingest_port, "ingest")


if __name__ == "__main__":
    main_guarded(main)
