"""One module per `stimbox` command. Each has NAME, add(sub) -> its parser
(with defaults(func=run)), and run(args) -> exit code; stimbox.cli.app
lists them and adds the global options (--port, --json, -q, -v) to every
parser."""
