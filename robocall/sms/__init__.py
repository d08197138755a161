"""SMS: encoding and segments, templates, messages, inbound keywords."""
