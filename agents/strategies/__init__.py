"""baasim's built-in strategy kinds, one module each, and their registration.

``register`` is the ``builtin`` entry of the ``baasim.strategies`` entry-point group: it is how
``sim`` learns these kinds without importing ``agents``. The order below is the order kinds are
listed in (``baasim schema``, error messages). Base classes: ``agents.strategies.base``.
"""

from __future__ import annotations

from sim.strategies import NoParams, Registry

from .always_approve import AlwaysApprove, AlwaysApproveParams
from .always_reject import AlwaysReject, AlwaysRejectParams
from .base import ContributorStrategy, InitiatorStrategy, Report, VerifierStrategy
from .colluding import Colluding, ColludingParams
from .copycat import Copycat, CopycatParams
from .dropout import Dropout, DropoutParams
from .free_access import FreeAccess
from .free_rider import FreeRider, FreeRiderParams
from .grinder import Grinder, GrinderParams
from .honest_contributor import HonestContributor
from .honest_initiator import HonestInitiator
from .honest_verifier import HonestVerifier
from .late_draw import LateDraw, LateDrawParams
from .lazy import LazyParams, LazyVerifier
from .offline import OfflineVerifier
from .peek_and_cancel import PeekAndCancel, PeekParams
from .plagiarist import Plagiarist, PlagiaristParams
from .poisoner import Poisoner, PoisonerParams
from .private import PrivateContributor, PrivateParams
from .registrant_flood import FloodParams, RegistrantFlood
from .selective_revealer import SelectiveParams, SelectiveRevealer
from .self_verifier import SelfVerifier, SelfVerifierParams

__all__ = [
    "ContributorStrategy",
    "InitiatorStrategy",
    "Report",
    "VerifierStrategy",
    "register",
]

BUILTIN: tuple[tuple[str, str, type, type], ...] = (
    ("contributor", "honest", HonestContributor, NoParams),
    ("contributor", "free_rider", FreeRider, FreeRiderParams),
    ("contributor", "plagiarist", Plagiarist, PlagiaristParams),
    ("contributor", "poisoner", Poisoner, PoisonerParams),
    ("contributor", "dropout", Dropout, DropoutParams),
    ("contributor", "self_verifier", SelfVerifier, SelfVerifierParams),
    ("contributor", "private", PrivateContributor, PrivateParams),
    ("verifier", "honest", HonestVerifier, NoParams),
    ("verifier", "lazy", LazyVerifier, LazyParams),
    ("verifier", "always_approve", AlwaysApprove, AlwaysApproveParams),
    ("verifier", "always_reject", AlwaysReject, AlwaysRejectParams),
    ("verifier", "colluding", Colluding, ColludingParams),
    ("verifier", "copycat", Copycat, CopycatParams),
    ("verifier", "offline", OfflineVerifier, NoParams),
    ("verifier", "registrant_flood", RegistrantFlood, FloodParams),
    ("verifier", "selective_revealer", SelectiveRevealer, SelectiveParams),
    ("initiator", "honest", HonestInitiator, NoParams),
    ("initiator", "late_draw", LateDraw, LateDrawParams),
    ("initiator", "peek_and_cancel", PeekAndCancel, PeekParams),
    ("initiator", "grinder", Grinder, GrinderParams),
    ("initiator", "free_access", FreeAccess, NoParams),
)
"""(role, name, strategy class, parameters class) of every built-in kind."""


def register(registry: Registry) -> None:
    """Entry point ``baasim.strategies:builtin``: add baasim's own kinds."""
    for role, name, cls, params in BUILTIN:
        registry.add(role, name, cls, params)
