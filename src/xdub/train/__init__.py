"""xdub.train: the training loop, stages 1 and 2, codec and scorer recipes, pair generation and
the training chain."""
