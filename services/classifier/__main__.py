"""`python -m services.classifier`: run a classifier worker (start more for more partitions)."""

from __future__ import annotations

import sys

from invested.service import boot, main_guarded


def main() -> None:
    settings = boot("classifier")
    from services.classifier.app import create_app

    app = create_app(settings)
    # Faust parses sys.argv itself: run exactly one worker, with our logging.
    # Faust parses sys.argv itself: run exactly one worker (its web server serves /metrics).
    faust_level = {"WARNING": "warn"}.get(settings.log_level, settings.log_level.lower())
    sys.argv = [sys.argv[0], "worker", "--loglevel", faust_level]
    app.main()


if __name__ == "__main__":
    main_guarded(main)
