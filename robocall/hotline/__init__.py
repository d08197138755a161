"""The inbound hotline: reports and declarations, escalation to the duty numbers, FAQ answers."""
