"""IVR: flow definitions, the pure flow engine, TwiML, call sessions and their webhooks."""
