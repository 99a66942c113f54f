"""Discourse instances: community ids from URLs, secrets bound to instances, forged instances refused.

Discourse signs the body only; the instance header is plain. These tests hold the rule that the
secret that verifies a body decides its community, and that a body claiming another instance
is refused (over HTTP: ``test_ingest_http.py``).
"""

from __future__ import annotations

import pytest

from invested.communities import discourse_community
from invested.contracts import EngagementEvent, Platform
from invested.settings import ConfigError, load_settings
from services.ingest.signatures import INSTANCE_MISMATCH, INVALID, SignatureError, sign_discourse
from services.ingest.verifiers import (
    DiscourseVerifier,
    build_verifiers,
    parse_discourse_instances,
)

BODY = b'{"post":{"id":1}}'


@pytest.mark.parametrize(
    ("url", "community"),
    [
        ("https://forum.acme.test", "forum.acme.test"),
        ("https://Forum.ACME.test/", "forum.acme.test"),
        ("https://forum.acme.test/forum-fr", "forum.acme.test~forum-fr"),
        ("https://forum.acme.test/forum-de/", "forum.acme.test~forum-de"),
        ("https://forum.acme.test//a//b", "forum.acme.test~a~b"),
        ("http://forum.acme.test:8080/x", "forum.acme.test:8080~x"),
        ("https://forum.acme.test:443/x", "forum.acme.test~x"),  # the scheme's default port
        ("https://forum.acme.test/a~b", "forum.acme.test~a%7Eb"),  # never another URL's id
    ],
)
def test_discourse_community_ids_keep_the_path_and_name_keys_safely(
    url: str, community: str
) -> None:
    assert discourse_community(url) == community
    # A valid community and member key: no "/", "{" or "}".
    EngagementEvent.model_validate(
        {
            "id": "x",
            "community": community,
            "platform": "discourse",
            "member": "m",
            "kind": "post",
            "occurred_at": "2024-01-01T00:00:00Z",
            "received_at": "2024-01-01T00:00:00Z",
        }
    )


def test_two_forums_under_one_host_are_two_communities() -> None:
    assert discourse_community("https://forum.acme.test/forum-fr") != discourse_community(
        "https://forum.acme.test/forum-de"
    )


@pytest.mark.parametrize(
    "url",
    [
        "forum.acme.test",
        "ftp://forum.acme.test",
        "https://",
        "https://forum.acme.test/?x=1",
        "https://forum.acme.test/#top",
        "https://user@forum.acme.test",
        "https://forum.acme.test:port",
        "https://forum.acme.test/{x}",
    ],
)
def test_what_is_not_an_instance_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        discourse_community(url)


def test_one_secret_is_bound_to_the_instance_setting() -> None:
    [instance] = parse_discourse_instances("s3cret-value-1", "https://forum.acme.test/fr")
    assert (instance.community, instance.secret) == ("forum.acme.test~fr", b"s3cret-value-1")


def test_pairs_bind_each_secret_to_its_instance() -> None:
    instances = parse_discourse_instances(
        "https://forum.acme.test/fr=secret-fr-000001, https://forum.acme.test/de=secret-de-000002",
        None,
    )
    assert [(i.community, i.secret) for i in instances] == [
        ("forum.acme.test~fr", b"secret-fr-000001"),
        ("forum.acme.test~de", b"secret-de-000002"),
    ]


@pytest.mark.parametrize(
    ("secret", "instance_url", "message"),
    [
        ("one-secret-value", None, "INVESTED_DISCOURSE_INSTANCE_URL"),
        ("https://a.test=s1-000000,https://a.test=s2-000000", None, "twice"),
        ("https://a.test=same-secret,https://b.test=same-secret", None, "share one secret"),
        ("https://a.test=s1-000000,https://b.test", None, "pair 2"),
        ("https://a.test?x=1=s1-000000", None, "pair 1"),
        ("https://a.test=s1-000000", "https://b.test", "not one of the pairs"),
    ],
)
def test_bad_discourse_configuration_names_the_problem_never_the_secret(
    secret: str, instance_url: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_discourse_instances(secret, instance_url)
    for value in ("one-secret-value", "s1-000000", "same-secret"):
        assert value not in str(caught.value)


def test_a_single_secret_without_its_instance_stops_the_service_naming_both_variables() -> None:
    with pytest.raises(ConfigError) as caught:
        build_verifiers(load_settings({"INVESTED_DISCOURSE_WEBHOOK_SECRET": "one-secret-value"}))
    assert "INVESTED_DISCOURSE_WEBHOOK_SECRET" in caught.value.message
    assert "INVESTED_DISCOURSE_INSTANCE_URL" in caught.value.message
    assert "one-secret-value" not in caught.value.message


def test_a_bad_instance_url_setting_is_refused_at_start() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"INVESTED_DISCOURSE_INSTANCE_URL": "forum.acme.test"})
    assert "INVESTED_DISCOURSE_INSTANCE_URL" in caught.value.message


def verifier() -> DiscourseVerifier:
    verifiers = build_verifiers(
        load_settings(
            {
                "INVESTED_DISCOURSE_WEBHOOK_SECRET": (
                    "https://forum.acme.test/fr=secret-fr-000001,"
                    "https://forum.acme.test/de=secret-de-000002"
                )
            }
        )
    )
    found = verifiers[Platform.DISCOURSE]
    assert isinstance(found, DiscourseVerifier)
    return found


def headers(secret: bytes, instance: str | None) -> dict[str, str]:
    sent = {"x-discourse-event-signature": sign_discourse(secret, BODY)}
    if instance is not None:
        sent["x-discourse-instance"] = instance
    return sent


def reason(secret: bytes, instance: str | None) -> str | None:
    try:
        verifier().verify(headers(secret, instance), BODY, 0.0)
    except SignatureError as exc:
        return exc.reason
    return None


def test_the_verifying_secret_decides_the_instance() -> None:
    check = verifier()
    fr = headers(b"secret-fr-000001", "https://forum.acme.test/fr")
    de = headers(b"secret-de-000002", "https://Forum.Acme.test/de/")
    assert check.verify(fr, BODY, 0.0) == "forum.acme.test~fr"
    assert check.verify(de, BODY, 0.0) == "forum.acme.test~de"
    # Discourse always sends the header; without it the secret alone decides.
    assert check.verify(headers(b"secret-de-000002", None), BODY, 0.0) == "forum.acme.test~de"


@pytest.mark.parametrize(
    "claimed",
    [
        "https://forum.acme.test/de",  # another configured instance
        "https://forum.acme.test",  # the host without the path
        "https://elsewhere.test/fr",
        "not a url",
    ],
)
def test_a_body_claiming_another_instance_is_refused(claimed: str) -> None:
    assert reason(b"secret-fr-000001", claimed) == INSTANCE_MISMATCH


def test_an_unknown_secret_is_an_invalid_signature() -> None:
    assert reason(b"secret-of-nobody-0", "https://forum.acme.test/fr") == INVALID
