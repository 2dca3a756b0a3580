"""``python -m app.cli``: the ``eligsim`` command."""

from app.cli import main

main()
