"""`python -m services.api`: serve the read API (needs Redis only, not Kafka)."""

import logging

from invested.httpserver import HttpLimits
from invested.service import boot, main_guarded
from services.api.app import create_app
from services.api.server import server

log = logging.getLogger("services.api")


def main() -> None:
    settings = boot("api", kafka=False)
    log.info("api listening on http://%s:%d", settings.bind_host, settings.api_port)
    limits = HttpLimits.from_settings(settings, "api")
    app = create_app(settings)
    server(app, settings.bind_host, settings.api_port, settings.log_level, limits).run()


if __name__ == "__main__":
    main_guarded(main)
