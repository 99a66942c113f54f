"""The "Invested / Community" dashboard: segment sizes per community and transitions.

Part of :mod:`generate` (``make dashboards``), which writes it to dashboards/community.json.
"""

from __future__ import annotations

from typing import Any

from layout import Board, dashboard, datasource_variable, query_variable

from invested import metric_defs as m


def community() -> dict[str, Any]:
    sel = 'community=~"$community"'
    members = m.CLASSIFIER_SEGMENT_MEMBERS
    transitions = m.CLASSIFIER_TRANSITIONS
    # Every classifier replica reports the same Redis-wide segment counts: max, never sum.
    size = f"max by (community, segment) ({members}{{{sel}}})"
    b = Board()
    b.row("Now (selected communities)")
    for segment, colour in (("community", "green"), ("audience", "blue"), ("dormant", "text")):
        b.stat(
            f"{segment.capitalize()} members",
            [
                (
                    f'sum(max by (community) ({members}{{{sel}, segment="{segment}"}}))',
                    segment,
                )
            ],
            thresholds=[(None, colour)],
        )
    b.stat(
        "Community share",
        [
            (
                f'sum(max by (community) ({members}{{{sel}, segment="community"}})) / '
                f'sum(max by (community) ({members}{{{sel}, segment=~"community|audience"}}))',
                "community / (community + audience)",
            )
        ],
        unit="percentunit",
        description="Invested members among everyone interested (dormant members excluded).",
    )

    b.row("Segment sizes")
    b.timeseries(
        "Audience, community and dormant members per community",
        [(size, "{{community}} {{segment}}")],
        description="Current members per segment; one series per community and segment.",
        w=24,
        h=9,
    )
    b.timeseries(
        "$community",
        [(f'max by (segment) ({members}{{community=~"$community"}})', "{{segment}}")],
        description="Segment sizes of one community (a panel per selected community).",
        w=8,
        h=7,
        stack=True,
        repeat="community",
        repeatDirection="h",
        maxPerRow=3,
    )

    b.row("Transitions (all communities: the transition counter has no community label)")
    b.timeseries(
        "Transitions per hour by direction",
        [(f"sum by (from, to) (increase({transitions}[1h]))", "{{from}} → {{to}}")],
        description="Members that changed segment in the trailing hour, by direction.",
        interval="5m",
    )
    b.timeseries(
        "Promotions and demotions per hour",
        [
            (f'sum(increase({transitions}{{to="community"}}[1h]))', "into community"),
            (f'sum(increase({transitions}{{from="community"}}[1h]))', "out of community"),
        ],
        interval="5m",
    )
    b.timeseries(
        "Audience → community conversion (per day)",
        [
            (
                f'sum(increase({transitions}{{from="audience", to="community"}}[1d])) / '
                f'sum(max by (community) ({members}{{segment="audience"}}))',
                "share of the audience converted in the trailing day",
            )
        ],
        unit="percentunit",
        description="Audience members who became community in the last 24 h, over the current "
        "audience size.",
        interval="15m",
    )
    b.timeseries(
        "Community size change over 24 h",
        [
            (
                f'max by (community) (delta({members}{{{sel}, segment="community"}}[1d]))',
                "{{community}}",
            )
        ],
        description="Net change of each selected community's community segment (promotions "
        "minus demotions) over the trailing day.",
        interval="15m",
    )
    return dashboard(
        "invested-community",
        "Invested / Community",
        "Who is audience, who is community, how that changes: sizes per community, transitions "
        "by direction, audience → community conversion.",
        b,
        [
            datasource_variable(),
            query_variable("community", "Community", members, "community"),
        ],
    )
