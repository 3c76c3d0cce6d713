"""xdub.web."""
