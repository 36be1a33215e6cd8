"""Governance rules of a send, as pure decisions: the frequency cap, quiet hours in the
customer's zone, the governance settings, and signed one-click unsubscribe tokens.

May import ``model``, ``files`` and ``process``; never ``rendering`` or ``loyalty`` beside it.
"""
