"""The real classifier worker with another Kafka fetch long-poll (``fetch_max_wait_ms``).

Faust hardcodes ``fetch_max_wait_ms=1500`` for its worker consumer; ``services/classifier/app.py``
sets ``FETCH_MAX_WAIT_MS`` instead (the embedded Tansu broker holds a fetch until the wait ends,
so the wait is the latency floor). This variant runs ``services.classifier`` unchanged except for
that constant (ms, first argument), e.g. 1500 to measure Faust's default.
Run: ``python -m bench.variants.fetch_wait 1500`` with the classifier's ``INVESTED_*`` settings.
"""

from __future__ import annotations

import sys

from invested.service import main_guarded


def main() -> None:
    wait_ms = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    sys.argv = sys.argv[:1]
    from services.classifier import app
    from services.classifier.__main__ import main as classifier_main

    app.FETCH_MAX_WAIT_MS = wait_ms
    classifier_main()


if __name__ == "__main__":
    main_guarded(main)
