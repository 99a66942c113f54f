"""`python -m services.ingest`: start the ingest service (garbage collection tuned for serving
requests: :func:`invested.service.tune_gc_for_requests`)."""

from invested.service import boot, main_guarded, serve_http, tune_gc_for_requests
from services.ingest.app import create_app


def main() -> None:
    settings = boot("ingest")
    app = create_app(settings)
    tune_gc_for_requests()
    serve_http(app, settings, settings.ingest_port, "ingest")


if __name__ == "__main__":
    main_guarded(main)
