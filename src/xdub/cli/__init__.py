"""Command-line interface (top layer): parse options, build configs, call the library."""
