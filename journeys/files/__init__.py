"""The marketer's files as text: reading one safely (UTF-8, a size limit), YAML that
remembers the line of every value, and the ``Problem`` that names file:line.

Beside ``model`` on the bottom floor; it imports nothing else of journeys.
"""
