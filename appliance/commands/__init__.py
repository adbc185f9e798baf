"""One module per `agma` subcommand.

Each module defines ``register(sub, common)`` which adds its parser (with ``parents=[common]``,
giving ``--config`` and ``--json``) and ``set_defaults(handler=run)``; ``run(args) -> int``.
Errors are raised as ``appliance.errors`` exceptions; the CLI turns them into one line and an
exit code. ``--json`` output goes through ``appliance.output.emit_json`` (one line, last on stdout),
the module the cli's error document uses too: a command never imports the cli (tests/test_layering.py).
"""
