"""Shared fixtures of the scenario tests: the smallest valid scenario text."""

from __future__ import annotations

BASE = """
name = "t"
[population]
contributors = 3
verifiers = 3
[[tasks]]
reward_ether = 5.0
committee_size = 3
"""
"""A minimal scenario that validates: three contributors, three verifiers, one task."""
