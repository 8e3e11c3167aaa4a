"""The wire format of the API's resources: JSON in and out, one module per resource.

Each module turns a JSON document (what ``json.loads`` returns) into the
domain's value and back. A schema checks only the *shape* of a document
(objects, lists, known keys, strings and numbers, ``HH:MM``, dates and ISO
8601 instants); every rule about the values (ranges, counts, overlaps,
lengths, who may be on the roster) is the domain value's constructor's, so
the API, the configuration reload and the domain check one thing once. A
problem is a :class:`~hotline_pbx.domain.errors.ValidationError` naming the
field by its path in the document (``weekly[2].end``); the API turns it into
``application/problem+json``.

The stored configuration documents are these same JSON documents, so
:mod:`hotline_pbx.store.config_repo` reads and writes through the same
schemas.
"""
