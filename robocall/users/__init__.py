"""Staff accounts, roles scoped to a unit, API tokens and the audit log."""
