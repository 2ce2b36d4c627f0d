"""``python -m patchbay.cli`` runs the command line."""

from patchbay.cli import main

main()
