"""The business calendar: is the hotline open at a given instant, and why.

Two parts: :mod:`.model` holds the values (weekly hours, dated exceptions,
the override, the statutory source's protocol, the company's default hours)
and their rules; :mod:`.evaluation` decides open or closed at an instant
(precedence, daylight saving time, the next change). Both are re-exported
here, so ``from hotline_pbx.domain.calendar import BusinessCalendar`` works
for either.
"""

from .evaluation import *  # noqa: F403 - the package's names are its two modules' names
from .evaluation import __all__ as _evaluation_names
from .model import *  # noqa: F403
from .model import __all__ as _model_names

__all__ = [*_evaluation_names, *_model_names]
