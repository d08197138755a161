"""Campaigns: audiences, rounds, attempts, dispatch within windows and limits."""
