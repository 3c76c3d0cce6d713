"""xdub.face."""
