"""Config of the web app (`xdub serve`, `xdub.web`). Imports: stdlib + xdub.errors."""

from __future__ import annotations

from dataclasses import dataclass

from xdub.errors import ConfigError


@dataclass(frozen=True, slots=True)
class WebConfig:
    """Where the app listens and what it accepts from the people who use it."""

    host: str = "127.0.0.1"  # loopback only: open it to a network on purpose (--host 0.0.0.0)
    port: int = 7860  # Gradio's usual port
    max_upload_mb: int = 200  # per file; larger uploads are refused before they are stored
    max_seconds: float = 120.0  # longest video or audio accepted (CPU dubbing is slow)
    queue_size: int = 16  # jobs waiting at most; one runs at a time, the others see their place
    examples: int = 1  # synthetic example pairs rendered at start (0: none)
    example_seconds: float = 2.0  # length of each example clip

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"--port must be 1..65535, got {self.port}")
        if self.max_upload_mb < 1:
            raise ConfigError(f"--max-upload-mb must be >= 1, got {self.max_upload_mb}")
        if self.max_seconds <= 0:
            raise ConfigError(f"--max-seconds must be > 0, got {self.max_seconds}")
        if self.queue_size < 1:
            raise ConfigError(f"--queue-size must be >= 1, got {self.queue_size}")
