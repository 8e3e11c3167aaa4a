"""Documents the daemon prints for people: the statistics pack as HTML and PDF."""
