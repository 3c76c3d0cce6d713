"""The one place that turns (frames, audio, face crops, reference frames) into model inputs.

Shared by `xdub.data` (training) and `xdub.pipeline` (inference) so preprocessing cannot drift.
"""
