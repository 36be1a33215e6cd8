"""Sandboxed, strict Jinja for message templates and scenario expressions: what a template
sees (the context), locale formatting, render limits (size and CPU time) and the check
that links only go where they may.

May import ``model``, ``files`` and ``process``; never ``loyalty`` or ``delivery`` beside it.
"""
