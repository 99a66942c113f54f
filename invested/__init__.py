"""Invested: the shared module every service imports (contracts, topics, settings, connections).

Services import this package and nothing of each other.
"""

__version__ = "0.1.0"
