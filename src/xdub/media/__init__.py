"""xdub.media."""
