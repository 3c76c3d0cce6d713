"""`xdub` console script entry point.

Commands live in their own modules under xdub.cli and register on `xdub.cli.app.app`. Known
problems (XdubError) end as one line on stderr with the error's exit code; usage errors (an
unknown command, `--steps 0`, `--length foo`) are one `error: ...` line with exit 2 (#15);
anything else prints one line too, unless XDUB_DEBUG=1 asks for a traceback.
"""

from __future__ import annotations

import os
import sys

from xdub.errors import XdubError

# Command modules, in --help order. Each imports `app` and decorates its functions.
COMMAND_MODULES = ("dub", "batch", "synth", "faces", "train", "train_stage2", "make_pairs", "bench",
                   "prepare", "serve")
EXIT_INTERNAL = 1  # an unexpected exception: a bug
EXIT_USAGE = 2  # a bad command line, like every other user mistake (xdub.errors: ConfigError)
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
    import typer

    usage_error, no_args_is_help = _usage_error_types()
    try:
        # Not standalone: usage errors come back here as exceptions, to be printed our way.
        code = app(args=argv, prog_name="xdub", standalone_mode=False)
    except SystemExit as done:
        return int(done.code or 0) if not isinstance(done.code, str) else 1
    except no_args_is_help as err:  # `xdub` / `xdub train` alone: help
        print(err.ctx.get_help() if err.ctx is not None else err.format_message())
        return 0
    except usage_error as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
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
    return code if isinstance(code, int) else 0


def _usage_error_types() -> tuple[type[Exception], type[Exception]]:
    """(UsageError, NoArgsIsHelpError) of the click that typer runs on: recent typer releases
    carry their own copy of click (typer._click), older ones use click itself."""
    try:
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:
        from click.exceptions import NoArgsIsHelpError, UsageError
    return UsageError, NoArgsIsHelpError


def _one_line(err) -> str:  # err: click.UsageError
    """The usage error as one line, naming the command's --help."""
    message = " ".join(err.format_message().replace("Value error, ", "").split())
    if err.ctx is not None:
        message += f" (see `{err.ctx.command_path} --help`)"
    return message


if __name__ == "__main__":
    sys.exit(main())
