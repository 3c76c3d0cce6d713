"""xdub.audio."""
