"""What practitioners use: signing in, finding a child, the record, registering involvement."""
from . import search, signin

BLUEPRINTS = (signin.bp, search.bp)
