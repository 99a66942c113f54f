"""`python -m services.classifier`: start the classifier (placeholder: metrics/health only)."""

import time

from prometheus_client import start_http_server

from invested.service import boot, main_guarded


def main() -> None:
    settings = boot("classifier")
    start_http_server(settings.classifier_metrics_port, addr=settings.bind_host)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main_guarded(main)
