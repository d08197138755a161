"""FastAPI app: web UI, JSON API and provider webhooks."""
