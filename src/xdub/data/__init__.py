"""xdub.data: clip sources, model-ready crops, training datasets and the pseudo-pair store."""
