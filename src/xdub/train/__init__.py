"""xdub.train."""
