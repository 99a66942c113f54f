"""``deploy/demo/``: the demo's brand and roles files agree with what the simulator sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from invested.communities import discourse_community
from invested.contracts import Platform
from tests.tools.simulated import engagement
from tools.simulator import cast
from tools.simulator.config import SimConfig

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo"


def load(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((DEMO / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_demos_five_tenants_are_one_brand() -> None:
    config = SimConfig()
    brands = load("brands.yaml")["brands"]
    assert set(brands) == {"acme"}
    tenants = {Platform(platform): ids for platform, ids in brands["acme"].items()}
    assert set(tenants) == set(Platform)
    assert all(isinstance(tenant, str) for ids in tenants.values() for tenant in ids)
    as_communities = {
        platform: [discourse_community(t) if platform is Platform.DISCOURSE else t for t in ids]
        for platform, ids in tenants.items()
    }
    assert as_communities == {platform: [config.community(platform)] for platform in Platform}


def test_roles_name_the_casts_staff_and_the_bot_no_payload_marks() -> None:
    roles = load("roles.yaml")["roles"]
    assert set(roles) == {"acme"}
    staff = {
        f"{platform.value}:{identity.id}"
        for person in cast.STAFF
        for platform, identity in person.identities.items()
    }
    release_bot = cast.BOTS["release-bot"]
    assert roles["acme"] == {
        **dict.fromkeys(staff, "staff"),
        f"{release_bot.platform.value}:@{release_bot.handle}": "bot",
    }


def test_every_identity_in_the_roles_file_acts_in_the_demo() -> None:
    events = engagement()
    by_id = {f"{e.platform.value}:{e.member}" for e in events}
    by_handle = {f"{e.platform.value}:@{e.member_handle}" for e in events if e.member_handle}
    for identity in load("roles.yaml")["roles"]["acme"]:
        assert identity in (by_handle if ":@" in identity else by_id), identity
