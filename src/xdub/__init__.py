"""xdub: mask-free visual dubbing (X-Dub method), from tiny CPU models to the Wan-5B release."""

__version__ = "0.1.0"

__all__ = ["__version__"]
