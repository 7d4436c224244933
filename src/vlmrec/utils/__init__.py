"""Small shared helpers: atomic file writes, content hashes, logging, seeding, devices."""
