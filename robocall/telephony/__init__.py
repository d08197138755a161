"""The telephony provider layer. Only this package imports `twilio`."""
