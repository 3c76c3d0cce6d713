"""Procedural talking-character engine: speech, mouth motion, characters, scenes, pairs."""
