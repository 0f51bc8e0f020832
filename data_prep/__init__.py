"""Preparation: dataset layouts -> decoded clips -> representations -> shards.

Importing the package registers its layouts and representations (`contracts.registry`).
"""

from . import representations, sources  # noqa: F401  (registration)
