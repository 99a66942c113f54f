"""The classifier's exact Faust settings, for the baselines.

The baselines must run with *the same* Faust configuration as ``services/classifier/app.py``,
or the comparison means nothing. Instead of copying the keyword arguments (which would drift),
:func:`classifier_faust_kwargs` calls the real ``create_app`` with ``faust.App`` replaced by a
recorder that captures its arguments and stops there.
"""

from __future__ import annotations

from typing import Any

import faust

from invested.settings import Settings


class _Captured(Exception):
    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__("captured")
        self.args_ = args
        self.kwargs = kwargs


def classifier_faust_kwargs(settings: Settings) -> tuple[str, dict[str, Any]]:
    """``(app id, keyword arguments)`` that the classifier passes to ``faust.App``."""
    from services.classifier.app import create_app

    real = faust.App

    def recorder(*args: Any, **kwargs: Any) -> Any:
        raise _Captured(args, kwargs)

    faust.App = recorder  # type: ignore[assignment,misc]
    try:
        create_app(settings)
    except _Captured as captured:
        return str(captured.args_[0]), dict(captured.kwargs)
    finally:
        faust.App = real  # type: ignore[misc]
    raise RuntimeError("services.classifier.app.create_app did not build a faust.App")
