"""The sync engine: clusters are the source of truth, the database mirrors them."""
