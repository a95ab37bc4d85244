"""``python -m verbatim`` runs the same command line as the ``verbatim`` script."""

from verbatim.cli import main

main()
