"""Generate the JSON Schemas of the contracts into ``schemas/`` (committed; downstream reads them).

``python -m invested.schemas`` writes them; ``--check`` exits 1 when the committed files drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from invested.contracts import DeadLetter, EngagementEvent, MemberTransition

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
MODELS: dict[str, type[BaseModel]] = {
    "engagement_event.v1.json": EngagementEvent,
    "member_transition.v1.json": MemberTransition,
    "dead_letter.v1.json": DeadLetter,
}


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def drifted(directory: Path = SCHEMA_DIR) -> list[str]:
    out = []
    for filename, model in MODELS.items():
        path = directory / filename
        if not path.exists() or path.read_text() != render(model):
            out.append(filename)
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = drifted()
        if bad:
            print(f"schemas drifted from the models: {bad}; run `python -m invested.schemas`")
            return 1
        return 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    for filename, model in MODELS.items():
        (SCHEMA_DIR / filename).write_text(render(model))
        print(f"wrote schemas/{filename}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
