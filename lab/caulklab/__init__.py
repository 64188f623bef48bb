"""caulk test fleet lab (stdlib only)."""
