"""`python -m cotdistill ...`: the CLI, where the `cotdistill` script is not on the PATH."""

from cotdistill.cli import main

main()
