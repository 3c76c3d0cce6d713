"""xdub.data."""
