"""`xdub` console script entry point.

Commands live in their own modules under xdub.cli and register on `xdub.cli.app.app`. Known
problems (XdubError) end as one line on stderr with the error's exit code; usage errors are
click's (exit 2); anything else prints one line too, unless XDUB_DEBUG=1 asks for a traceback.
"""

from __future__ import annotations

import os
import sys

from xdub.errors import XdubError

# Command modules, in --help order. Each imports `app` and decorates its functions.
COMMAND_MODULES = ("dub", "batch", "synth", "faces", "train", "train_stage2", "make_pairs", "bench",
                   "prepare")
EXIT_INTERNAL = 1  # an unexpected exception: a bug
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, the shell convention)


def register_commands() -> None:
    """Import every command module so its commands are on `app`."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"xdub.cli.{name}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    from xdub.cli.app import app

    register_commands()
    try:
        app(args=argv, prog_name="xdub")  # standalone: click handles --help/usage errors itself
    except SystemExit as done:
        return int(done.code or 0) if not isinstance(done.code, str) else 1
    except XdubError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a bug: still one line unless asked
        if os.environ.get("XDUB_DEBUG"):
            raise
        print(f"internal error: {type(err).__name__}: {err} (set XDUB_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
