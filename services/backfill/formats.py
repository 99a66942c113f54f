"""Which format reads which inputs: ``--platform`` and the files given pick one format module.

GitHub has two: GH Archive hourly files (``.json.gz``) and REST API dumps (``.json``); one run
imports one kind. Folders are searched for the files of the format (sorted by path); a Slack
export is a zip or the folder it unpacks to, and is handed over whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from services.backfill import discord_export, discourse_api, gharchive, github_rest, slack_export
from services.backfill.source import ExportFormat, UsageError

PLATFORMS = ("discord", "discourse", "github", "slack")


def _files(paths: Iterable[Path], suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    if not found:
        raise UsageError(f"no {' or '.join(suffixes)} files in {', '.join(map(str, paths))}")
    return found


def build(platform: str, paths: list[Path], community: str | None) -> ExportFormat:
    if platform == "slack":
        if len(paths) != 1:
            raise UsageError(
                "a Slack import reads one export: the zip, or the folder it unpacks to"
            )
        return slack_export.SlackExportFormat(paths[0], community)
    if platform == "discourse":
        return discourse_api.DiscourseApiFormat(_files(paths, (".json",)), community)
    if platform == "discord":
        return discord_export.DiscordExportFormat(_files(paths, (".json",)), community)
    if platform == "github":
        files = _files(paths, (".json", ".json.gz", ".jsonl", ".jsonl.gz"))
        archives = [path for path in files if gharchive.is_archive(path)]
        if archives and len(archives) != len(files):
            raise UsageError(
                "GH Archive files (.json.gz) and REST API dumps (.json) are imported in "
                "separate runs"
            )
        if archives:
            return gharchive.GhArchiveFormat(archives, community)
        return github_rest.GitHubRestFormat(files, community)
    raise UsageError(f"unknown platform {platform!r}")
