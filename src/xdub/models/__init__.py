"""xdub.models."""
