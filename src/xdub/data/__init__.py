"""xdub.data: clip sources, model-ready crops, training datasets, the pseudo-pair store and the
procedural talking-character engine (`xdub.data.synth`)."""
