"""What practitioners use: signing in, finding a child, the record, registering involvement, notifications."""
from . import notifications, search, signin

BLUEPRINTS = (signin.bp, search.bp, notifications.bp)
