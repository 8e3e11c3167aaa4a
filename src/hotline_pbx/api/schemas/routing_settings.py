"""The routing snapshot's settings as JSON (queue, dial template, timeouts).

Not an API resource yet (they come from ``[routing]`` of the TOML file,
:func:`hotline_pbx.config.routing_settings`); every field is optional and
defaults to the RoutingSettings default, which checks every value.
"""

from __future__ import annotations

from typing import Any

from hotline_pbx.api.schemas._json import check_keys, expect_mapping
from hotline_pbx.domain.errors import ErrorCollector, ValidationError
from hotline_pbx.domain.routing import RoutingSettings

__all__ = ["settings_from_dict", "settings_to_dict"]

_SETTINGS_FIELDS = (
    "queue_name",
    "dial_template",
    "ring_timeout_seconds",
    "queue_timeout_seconds",
    "inbound_endpoint",
)


def settings_from_dict(data: object, *, path: str = "") -> RoutingSettings:
    mapping = expect_mapping(data, path, '{"queue_name": "hotline", "ring_timeout_seconds": 20}')
    errors = ErrorCollector(path)
    check_keys(mapping, _SETTINGS_FIELDS, (), errors, {})
    errors.raise_if_any()
    try:
        return RoutingSettings(**mapping)  # type: ignore[arg-type]
    except ValidationError as error:
        raise error.at(path) from None


def settings_to_dict(settings: RoutingSettings) -> dict[str, Any]:
    return {key: getattr(settings, key) for key in _SETTINGS_FIELDS}
