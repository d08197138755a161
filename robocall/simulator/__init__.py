"""A Twilio-compatible simulated phone network: REST subset, residents following TwiML."""
