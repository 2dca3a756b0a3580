"""Who may see what: institutions and their API keys, card sessions, visits, consents (同意) and the
append-only audit log. Stored in the registry database beside the payers' data."""
