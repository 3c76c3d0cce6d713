"""xdub.bench."""
