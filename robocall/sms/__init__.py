"""SMS: messages sent to and received from residents."""
