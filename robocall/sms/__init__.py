"""SMS: encoding and segments, templates, messages to and from residents, keywords."""
