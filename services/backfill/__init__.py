"""Backfill: import a brand's history from platform exports as the events webhooks would give.

``python -m services.backfill`` (``cli.py``) reads a platform's own export or API dump — GitHub
REST dumps (``github_rest.py``) and GH Archive hourly files (``gharchive.py``), a Slack
workspace export (``slack_export.py``), Discourse API responses (``discourse_api.py``),
DiscordChatExporter JSON (``discord_export.py``) — and turns every record into the
``EngagementEvent``\\ s the platform's webhook for the same act would have produced, through the
ingest adapters' own rules, so an act imported and the same act arriving live share an event id.
``runner.py`` batches events into a :class:`~services.backfill.sink.Sink` in each input's order,
checkpointing after every batch (``checkpoint.py``) so a killed import resumes where it stopped.
"""
