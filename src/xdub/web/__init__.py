"""xdub.web: reserved for a small web UI over `xdub.pipeline` (empty for now)."""
