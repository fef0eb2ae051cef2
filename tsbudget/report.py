"""One result base and one number formatter for every result tsbudget returns.

Every result (a fit, a plan, a comparison, a redundancy report, ...) is a frozen attrs class
that subclasses :class:`Report`. Its repr reads like a report, in one order for all of them:
the headline (success and message), then the estimates, then the diagnostics. Subclasses
say what goes in each part (:meth:`Report.estimate_lines`, :meth:`Report.diagnostic_lines`;
named so that a result can keep a ``diagnostics`` field of numbers); :class:`Report` lays
it out, and gives ``to_json`` from the subclass's ``to_dict``. Numbers are written by :func:`fmt`, and missing or non-finite
values by one mark, :data:`MISSING`, everywhere (repr, CLI tables).
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

import numpy as np

__all__ = ["MISSING", "Report", "fmt", "jsonable"]

MISSING = "—"


def fmt(value, digits: int = 4) -> str:
    """``value`` as text: floats to ``digits`` significant digits, ``yes``/``no`` for
    booleans, :data:`MISSING` for ``None``, NaN and infinities, anything else by ``str``."""
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}g}" if math.isfinite(value) else MISSING
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def jsonable(obj):
    """``obj`` with numpy scalars and arrays as Python values, tuples as lists and
    non-finite floats as ``None`` (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


class Report(ABC):
    """Base of every result: a repr in the order headline, estimates, diagnostics.

    Subclasses define :meth:`to_dict` and override :meth:`title`, :meth:`estimate_lines` and
    :meth:`diagnostic_lines` (each an iterable of text lines); results with a ``success`` and
    a ``message`` get the headline ``Title: success: message`` (``FAILED`` otherwise). A
    result whose few lines speak for themselves sets ``captions = False``: its lines are then
    indented under the headline without the ``estimates:``/``diagnostics:`` captions.
    """

    __slots__ = ()
    captions: ClassVar[bool] = True

    def title(self) -> str:
        return type(self).__name__

    def headline(self) -> str:
        success = getattr(self, "success", None)
        if success is None:
            return self.title()
        status = "success" if success else "FAILED"
        return f"{self.title()}: {status}: {getattr(self, 'message', '')}"

    def estimate_lines(self) -> Iterable[str]:
        return ()

    def diagnostic_lines(self) -> Iterable[str]:
        return ()

    def report_lines(self) -> list[str]:
        """The repr's lines: the headline, then the estimates, then the diagnostics."""
        lines = [self.headline()]
        for caption, part in (("estimates", self.estimate_lines()), ("diagnostics", self.diagnostic_lines())):
            part = list(part)
            if part and self.captions:
                lines.append(f"  {caption}:")
                lines.extend("    " + line for line in part)
            else:
                lines.extend("  " + line for line in part)
        return lines

    def __repr__(self) -> str:
        return "\n".join(self.report_lines())

    @abstractmethod
    def to_dict(self) -> dict:
        """The result as plain Python values (see :func:`jsonable`)."""

    def to_json(self, **kwargs) -> str:
        """JSON text of :meth:`to_dict` (non-finite floats as ``null``); floats are written
        by ``repr`` so they read back exactly."""
        return json.dumps(jsonable(self.to_dict()), **kwargs)
