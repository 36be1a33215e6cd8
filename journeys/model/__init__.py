"""Pure data, the floor every other part stands on: the scenario language and its compiled
ops, audience filters, durations, limits, cron lines, events, journey state and keys, the
activity contracts, the channels, the profile field rules, JSON value rules and local-time
arithmetic.

Deterministic and free of I/O, because workflow code imports it. It imports nothing else
of journeys.
"""
