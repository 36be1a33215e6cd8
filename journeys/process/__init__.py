"""What a process reads from and tells its environment: settings from ``JOURNEYS_*`` and
``TEMPORAL_*`` variables, the Twilio account settings, logging (with credentials redacted)
and Prometheus metrics.

Beside ``model`` on the bottom floor; it imports nothing else of journeys.
"""
