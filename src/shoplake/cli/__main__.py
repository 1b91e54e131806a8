"""``python -m shoplake.cli`` runs the command line."""

from shoplake.cli.main import main

main()
