"""Journeys: scenario files become durable Temporal journeys that send rendered messages.

One sub-package per part, each importing only the parts below it (checked by
``tests/test_layout.py`` from ``[tool.importlinter]`` in pyproject.toml)::

    cli
    api | app                       (api: never worker.py, activities, workflows)
    (worker.py)
    activities | workflows          (workflows: model only)
    customers | temporal
    authoring | store
    rendering | loyalty | delivery
    model | files | process

``journeys.client``, the Python client for apps, stands alone and imports none of them.
"""
