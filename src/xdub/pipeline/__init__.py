"""xdub.pipeline."""
