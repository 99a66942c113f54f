"""`python -m services.api`: start the api service."""

from invested.service import boot, main_guarded, serve_http
from services.api.app import create_app


def main() -> None:
    settings = boot("api")
    serve_http(create_app(settings), settings, settings.api_port, "api")


if __name__ == "__main__":
    main_guarded(main)
