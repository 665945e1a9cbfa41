"""``python -m webapp.cli``: the same as the ``contactpoint`` command."""
from . import main

main()
