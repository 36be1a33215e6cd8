"""Reading scenario files with file:line errors, validating them against the templates and
the loyalty program before any customer enters, and the registry of scenarios in force.

May import ``model``, ``files``, ``process``, ``rendering``, ``loyalty`` and ``delivery``;
never ``store``, which stands beside it (validation never needs the database).
"""
