"""What can still go wrong in an instance whose tokens sit where they sit: the validator's soundness rules,
applied to a state rather than to a blueprint. A repair (moving tokens, migrating to another version) is
checked with them before it is applied.

Findings, each naming its node:

- ``join_cannot_fire``: a parallel join that the tokens can never fill (the tokens waiting there plus the
  most the other tokens can still bring are fewer than its incoming edges). Either tokens wait there
  already (they wait for good), or a token can reach it (a token inside a parallel block without its
  siblings).
- ``cannot_finish``: no token can reach an END any more (joins that cannot fire are walls): the instance
  could never finish. Blocking.
- ``no_tokens``: nothing is left to move on. Blocking.

A blocking finding refuses the change unless the operator forces it; the others are warnings shown in the
preview.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.graph import CompiledBlueprint
from engine.kinds import spec
from engine.model import Token, TokenStatus


@dataclass(frozen=True)
class Finding:
    """One problem of a state: ``kind`` (see the module), the node it is about, what is wrong, and whether
    it leaves the instance unable to finish (``blocking``)."""

    kind: str
    node_id: str | None
    message: str
    blocking: bool

    def __str__(self) -> str:
        return self.message


def check_tokens(bp: CompiledBlueprint, tokens: Iterable[Token]) -> list[Finding]:
    """The findings for an instance of ``bp`` holding ``tokens``, blocking ones first."""
    tokens = list(tokens)
    if not tokens:
        return [Finding("no_tokens", None, "no token would be left: the instance could not move on (cancel it "
                                           "instead)", True)]
    findings = _joins_that_cannot_fire(bp, tokens)
    walls = {finding.node_id for finding in findings}
    if not _can_reach_an_end(bp, tokens, walls):
        findings.insert(0, Finding("cannot_finish", None, "no token could reach an END any more: the instance "
                                                         "could never finish", True))
    return findings


def _joins_that_cannot_fire(bp: CompiledBlueprint, tokens: list[Token]) -> list[Finding]:
    from engine.machine import most_arrivals  # the machine's own count, shared with the stuck check

    findings: list[Finding] = []
    at: dict[str, int] = {}
    for token in tokens:
        if token.status in (TokenStatus.WAITING, TokenStatus.STUCK) and spec(bp.kinds[token.node_id]).waits:
            at[token.node_id] = at.get(token.node_id, 0) + 1
    for join_id, kind in bp.kinds.items():
        if not spec(kind).waits:
            continue
        needed = len(bp.incoming.get(join_id, [])) or 1
        most = most_arrivals(bp, join_id)
        reaching = [t for t in tokens if t.node_id != join_id and most.get(t.node_id, 0) > 0]
        could = sum(most.get(t.node_id, 0) for t in reaching)
        arrived = at.get(join_id, 0)
        if arrived + could >= needed or (not arrived and not reaching):
            continue
        if arrived:
            others = "no other token can still reach it" if not could else \
                f"the other tokens can bring at most {could:g} more"
            message = (f"parallel join {join_id!r} would wait for good: {arrived} of {needed} branches arrived "
                       f"and {others}")
        else:
            names = ", ".join(sorted({repr(t.node_id) for t in reaching}))
            message = (f"the token at {names} is inside a parallel block without its siblings: join {join_id!r} "
                       f"needs {needed} branches and could get at most {could:g}")
        findings.append(Finding("join_cannot_fire", join_id, message, False))
    return findings


def _can_reach_an_end(bp: CompiledBlueprint, tokens: list[Token], walls: set[str | None]) -> bool:
    """Whether some token has a path to an END that passes no join of ``walls``."""
    seen: set[str] = set()
    stack = [t.node_id for t in tokens if t.node_id not in walls]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        if spec(bp.kinds[node_id]).ends:
            return True
        stack.extend(edge.target_id for edge in bp.outgoing.get(node_id, []) if edge.target_id not in walls)
    return False
