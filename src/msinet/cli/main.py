"""`msinet` command line: one subcommand per module in msinet.cli (add_arguments / run)."""

from __future__ import annotations

import argparse
import importlib
import sys

# the extra that installs everything a subcommand needs beyond the core (pyproject.toml)
COMMAND_EXTRA = {"train": "train", "stereo-eval": "eval", "export": "export"}

# subcommand -> module; each module defines HELP, add_arguments(parser) and run(args) -> exit code
COMMANDS = {
    "models": "msinet.cli.models",
    "upscale": "msinet.cli.upscale",
    "compare": "msinet.cli.compare",
    "eval": "msinet.cli.evaluate",
    "prepare": "msinet.cli.prepare",
    "train": "msinet.cli.train",
    "stereo-eval": "msinet.cli.stereo_eval",
    "export": "msinet.cli.export",
    "convert": "msinet.cli.convert",
    "weights": "msinet.cli.weights",
    "doctor": "msinet.cli.doctor",
    "report": "msinet.cli.report",
}


def _available() -> dict:
    mods = {}
    for name, modname in COMMANDS.items():
        try:
            mods[name] = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name != modname:  # a real missing dependency inside the module
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="msinet", description="Stereo image super-resolution (MSINet and peers).")
    parser.add_argument("--version", action="version", version=f"msinet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _available().items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from ..runtime.interrupts import exit_status, signal_name, sigterm_as_interrupt
    from .preflight import discard_unused_folders

    rc = 1
    try:
        with sigterm_as_interrupt():  # SIGTERM gets what Ctrl-C gets: the same clean-up and message
            rc = int(args._run(args) or 0)
        return rc
    except KeyboardInterrupt as exc:
        if not getattr(exc, "explained", False):  # a command that said what was kept prints no second line
            print(f"msinet {args.command}: interrupted ({signal_name(exc)})", file=sys.stderr)
        return exit_status(exc)
    except ModuleNotFoundError as exc:  # an optional dependency: name the extra that installs it
        from ..runtime.extras import MissingExtra, missing_extra_message

        if isinstance(exc, MissingExtra):  # require() already named the extra
            message = str(exc)
        else:
            message = missing_extra_message(exc.name or "", f"msinet {args.command}", COMMAND_EXTRA.get(args.command))
        if message is None:
            raise
        print(f"msinet {args.command}: error: {message}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # user errors: bad input, missing files, refusals to overwrite
        from .preflight import describe

        print(f"msinet {args.command}: error: {describe(exc)}", file=sys.stderr)
        return 2
    finally:
        if rc != 0:
            discard_unused_folders()  # output folders a failed job created but wrote nothing into are removed
        from .preflight import _CREATED

        _CREATED.clear()


if __name__ == "__main__":
    sys.exit(main())
