"""`python -m vitiweb.sandbox`: the sandbox without Django (same options as `manage.py sandbox`)."""

from .cli import main

main()
