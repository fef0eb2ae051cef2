"""Named reference systems a comparison is judged against.

A fixed-budget hierarchy, router or patcher is only "better" relative to something. The
usual baselines are first-class here so that a comparison can name one as its
``reference`` and carry its description into reports: uniform allocation, a
hand-scheduled allocation, a static bowtie, a learned router, and a dense model. A user
registers their own with :func:`register_reference`.

A reference is matched to a system of the runs by its name or one of its aliases
(case-insensitive, ignoring ``-``/``_``/spaces), so runs labelled ``"Dense"`` or
``"uniform-allocation"`` are found by ``reference="dense"`` or ``reference="uniform"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from tsbudget.errors import InputError

__all__ = ["ReferenceSystem", "REFERENCES", "register_reference", "get_reference", "match_reference"]


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(text)).lower()


@attrs.frozen
class ReferenceSystem:
    """A baseline a system is compared with: ``name``, what it is, where it comes from,
    and other labels runs of it commonly carry (``aliases``)."""

    name: str
    description: str
    citation: str = ""
    aliases: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self):
        if not str(self.name).strip():
            raise InputError("ReferenceSystem.name must be a non-empty string")

    def matches(self, label: str) -> bool:
        """True when a system label is this reference's name or one of its aliases."""
        return _key(label) in {_key(self.name), *(_key(a) for a in self.aliases)}

    def to_dict(self) -> dict:
        return attrs.asdict(self)


_BUILTIN = (
    ReferenceSystem(
        "uniform",
        "Uniform allocation: every position (or level, or channel) gets the same compute; "
        "no content-dependent routing. The baseline an adaptive allocation must beat.",
        aliases=("uniform allocation", "uniform-allocation", "fixed", "static uniform"),
    ),
    ReferenceSystem(
        "hand_scheduled",
        "Hand-scheduled allocation: compute per position (or per level) follows a fixed "
        "schedule chosen by a person, e.g. coarser patches for low-variance stretches.",
        aliases=("hand-scheduled", "hand scheduled", "manual", "heuristic"),
    ),
    ReferenceSystem(
        "static_bowtie",
        "Static bowtie hierarchy: fixed downsampling to a narrow latent and fixed "
        "upsampling back (an hourglass), with compression ratios set before training.",
        citation="Nawrot et al. 2022, Hierarchical Transformers Are More Efficient Language Models (Hourglass)",
        aliases=("bowtie", "static-bowtie", "hourglass"),
    ),
    ReferenceSystem(
        "learned_router",
        "Learned router: a trained gate decides per position where compute goes "
        "(top-k mixture of experts, learned patch boundaries, learned depth).",
        citation="Clark et al. 2022, Unified Scaling Laws for Routed Language Models (S-Base, RL-R)",
        aliases=("learned-router", "router", "learned routing"),
    ),
    ReferenceSystem(
        "dense",
        "Dense model: every position passes through every parameter (no routing).",
        citation="Kaplan et al. 2020; Hoffmann et al. 2022",
        aliases=("dense baseline", "baseline"),
    ),
)

#: Name -> reference system; :func:`register_reference` adds to it.
REFERENCES: dict[str, ReferenceSystem] = {r.name: r for r in _BUILTIN}


def register_reference(name: str, description: str, *, citation: str = "", aliases: Iterable[str] = (),
                       replace: bool = False) -> ReferenceSystem:
    """Add a user-named reference system (``replace=True`` to overwrite an existing name)."""
    ref = ReferenceSystem(str(name), str(description), citation, tuple(aliases))
    if ref.name in REFERENCES and not replace:
        raise InputError(f"reference {ref.name!r} already exists; pass replace=True to overwrite it")
    REFERENCES[ref.name] = ref
    return ref


def get_reference(name: str) -> ReferenceSystem:
    """The registered reference named ``name`` (or having it as an alias)."""
    if name in REFERENCES:
        return REFERENCES[name]
    for ref in REFERENCES.values():
        if ref.matches(name):
            return ref
    raise InputError(f"no reference system named {name!r}; known: {', '.join(sorted(REFERENCES))}")


def match_reference(reference: str, systems: Iterable[str]) -> tuple[str, ReferenceSystem | None]:
    """The system label that ``reference`` points to, and its registered description.

    A label equal to ``reference`` wins; otherwise the registered reference of that name
    (or alias) is looked up and the one system it matches is returned. Raises an
    :class:`InputError` naming the systems when nothing (or more than one) matches.
    """
    systems = [str(s) for s in systems]
    ref = None
    try:
        ref = get_reference(reference)
    except InputError:
        pass  # not a registered reference: the label alone must match a system
    if reference in systems:
        return reference, ref
    exact = [s for s in systems if _key(s) == _key(reference)]
    if len(exact) == 1:
        return exact[0], ref
    if ref is not None:
        hits = [s for s in systems if ref.matches(s)]
        if len(hits) == 1:
            return hits[0], ref
        if len(hits) > 1:
            raise InputError(f"reference {reference!r} matches several systems {hits}; name one of them")
    raise InputError(f"reference {reference!r} is not one of the systems {systems}"
                     + (f" (and no system is labelled like reference {ref.name!r})" if ref else ""))
