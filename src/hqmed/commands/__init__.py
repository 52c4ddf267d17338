"""One module per ``hqmed`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args)``."""
