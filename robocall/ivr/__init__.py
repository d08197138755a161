"""IVR: flow definitions, the pure flow engine, call sessions and their webhooks."""
