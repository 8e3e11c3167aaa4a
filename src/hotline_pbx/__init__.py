"""hotline-pbx: the daemon that runs a 400 customer-service hotline on Asterisk."""

__version__ = "0.1.0"
