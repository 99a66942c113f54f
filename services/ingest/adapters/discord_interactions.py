"""Discord's direct requests to the interactions endpoint, answered at once with no event.

Discord sends interactions (a slash command, a button, an autocomplete, a modal) straight to the
application's interactions endpoint and fails the user's action unless it gets an answer of the
right type within 3 seconds. Ingest answers them itself, before any Kafka or Redis work:

| Interaction (``type``) | Answer |
| --- | --- |
| PING (1) | ``{"type": 1}`` (PONG) |
| APPLICATION_COMMAND (2), MODAL_SUBMIT (5) | ``{"type": 4, "data": {"content": …, "flags": 64}}``: a message only the user sees |
| MESSAGE_COMPONENT (3) | ``{"type": 6}``: acknowledged, the message stays as it is |
| APPLICATION_COMMAND_AUTOCOMPLETE (4) | ``{"type": 8, "data": {"choices": []}}`` |

A command use is not an engagement event: it is a member talking to the brand's app, not to the
community, and producing it would make the answer wait on Kafka. Discord's Webhook Events (an
outgoing webhook with ``type`` 0 PING or 1 event) are answered 204, as Discord requires.
"""

from __future__ import annotations

from typing import Any

from services.ingest.adapters.common import EVENT_NOT_MAPPED, Handshake

PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_UPDATE_MESSAGE = 6
AUTOCOMPLETE_RESULT = 8
EPHEMERAL = 1 << 6

COMMAND_ANSWER = "Noted. This app listens to the community and runs no commands."

_ANSWERS: dict[int, dict[str, Any]] = {
    PING: {"type": PONG},
    APPLICATION_COMMAND: {
        "type": CHANNEL_MESSAGE_WITH_SOURCE,
        "data": {"content": COMMAND_ANSWER, "flags": EPHEMERAL},
    },
    MODAL_SUBMIT: {
        "type": CHANNEL_MESSAGE_WITH_SOURCE,
        "data": {"content": COMMAND_ANSWER, "flags": EPHEMERAL},
    },
    MESSAGE_COMPONENT: {"type": DEFERRED_UPDATE_MESSAGE},
    AUTOCOMPLETE: {"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}},
}


def answer_directly(payload: dict[str, Any]) -> Handshake | None:
    """The answer to an interaction or a Webhook Events request; None for anything else."""
    kind = payload.get("type")
    if isinstance(kind, bool) or not isinstance(kind, int):
        return None
    if "event" in payload or (kind == 0 and "application_id" in payload):
        # Webhook Events: type 0 is its PING, type 1 an event we do not map; both want a 204.
        if kind == 0:
            return Handshake(None, status=204)
        return Handshake(None, status=204, outcome="ignored", reason=EVENT_NOT_MAPPED)
    answer = _ANSWERS.get(kind)
    if answer is None:
        return None
    return Handshake(answer, outcome="handshake" if kind == PING else "interaction")
