"""Journeys: scenario files become durable Temporal journeys that send rendered messages."""
