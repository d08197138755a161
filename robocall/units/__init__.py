"""Jurisdictions: province → district → commune (districts optional)."""
