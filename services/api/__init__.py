"""The read API: members, segments, history and live transitions over the classifier's Redis state.

Reads only what ``invested.state`` documents; writes nothing. Entry point: ``python -m services.api``.
"""
