"""The supervisor console: pages, login sessions and the live wallboard, served
by the daemon under ``/console/`` (docs/console.md)."""
