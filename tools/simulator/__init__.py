"""Community simulator: a realistic community over simulated time, as signed platform webhooks.

A development tool (``make demo``, the ingest benchmark, tests), not part of the services.

* :mod:`.model`: the member-behaviour model (who acts, what, when), platform-neutral;
* :mod:`.cast` and :mod:`.names`: the fixed staff, bots and cross-platform people, and the
  seeded crowd's names, handles, ids and e-mails;
* :mod:`.github`, :mod:`.slack`, :mod:`.discourse`, :mod:`.discord`, :mod:`.generic`: one
  payload builder per platform, mirroring ``services/ingest/adapters/`` (:mod:`.base` is what
  they share);
* :mod:`.community`: :func:`~tools.simulator.community.generate`, the model played through the
  builders;
* :mod:`.signing`: the platforms' signatures; :mod:`.posting`: posting to ingest;
  ``__main__``: the command line (``python -m tools.simulator``).
"""
