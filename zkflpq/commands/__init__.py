"""CLI subcommands: one module per command, each exposing `register(subparsers)`.

`zkflpq.cli` imports every public module of this package and calls its `register`,
which must add a subparser and `set_defaults(func=handler)` with `handler(args) -> int`
(the exit status). Keep module-level imports light; import heavy layers in the handler.
"""
