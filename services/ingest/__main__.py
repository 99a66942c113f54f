"""`python -m services.ingest`: start the ingest service."""

from invested.service import boot, main_guarded, serve_http
from services.ingest.app import create_app


def main() -> None:
    settings = boot("ingest")
    serve_http(create_app(settings), settings, settings.ingest_port, "ingest")


if __name__ == "__main__":
    main_guarded(main)
