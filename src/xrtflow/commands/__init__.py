"""Sub-commands of the ``xrtflow`` command line.

Each module here defines ``add_parser(subparsers)`` (registers its sub-command and sets ``func``)
and is listed in :data:`xrtflow.cli.COMMAND_MODULES`.
"""
