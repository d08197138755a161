"""rq queues and the worker and scheduler processes."""
