"""xdub.diffusion."""
