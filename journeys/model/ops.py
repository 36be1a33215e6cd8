"""Scenario steps compiled to a flat list of operations (the ops) with jump targets.

Why flat: a journey's position is then one integer (``pc``), which survives
continue-as-new and restarts trivially, and the interpreter is a loop over small
per-kind handlers instead of a recursive walk that must be resumed mid-branch.
Pure and deterministic: the workflow compiles its own scenario snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from journeys.model.scenario import AnyStep, CouponStep, ExitStep, IfStep, SplitStep, WaitForStep


@dataclass(frozen=True)
class Op:
    """One operation. ``kind`` is the step kind, or ``jump`` for block ends.

    targets: ``if`` → (else_at,); ``wait_for`` → (timed_out_at,); ``split`` → one start per
    variant; ``coupon`` → (limit_reached_at,); ``jump`` → (to,). Falling through always
    means ``pc + 1``.
    """

    kind: str
    step: AnyStep | None
    targets: tuple[int, ...] = ()

    @property
    def step_id(self) -> str:
        return self.step.id if self.step else ""


def compile_steps(steps: list[AnyStep]) -> list[Op]:
    ops: list[Op] = []
    _emit_block(steps, ops)
    return ops


def _emit_block(steps: list[AnyStep], ops: list[Op]) -> None:
    for step in steps:
        if isinstance(step, IfStep):
            _emit_two_way(step, step.then, step.otherwise, ops)
        elif isinstance(step, WaitForStep):
            _emit_two_way(step, step.received, step.timed_out, ops)
        elif isinstance(step, SplitStep):
            _emit_split(step, ops)
        elif isinstance(step, CouponStep):
            _emit_two_way(step, [], [*step.limit_reached, limit_reached_exit(step)], ops)
        else:
            ops.append(Op(step.kind, step))


def _emit_two_way(
    step: AnyStep, first: list[AnyStep], second: list[AnyStep], ops: list[Op]
) -> None:
    """``first`` runs on fall-through (condition true / event received), ``second`` on jump."""
    head = len(ops)
    ops.append(Op(step.kind, step))
    _emit_block(first, ops)
    jump = len(ops)
    ops.append(Op("jump", None))
    ops[head] = Op(step.kind, step, (len(ops),))
    _emit_block(second, ops)
    ops[jump] = Op("jump", None, (len(ops),))


def limit_reached_exit(step: CouponStep) -> ExitStep:
    """Where a coupon step's limit-reached path ends: the entry ends there, so the steps
    after the coupon step (which talk about the coupon) never run without one."""
    reason = f"coupon limit reached at step '{step.id}'"
    return ExitStep(id=f"{step.id}.limit-reached", reason=reason)


def _emit_split(step: SplitStep, ops: list[Op]) -> None:
    head = len(ops)
    ops.append(Op("split", step))
    starts: list[int] = []
    jumps: list[int] = []
    for variant in step.variants:
        starts.append(len(ops))
        _emit_block(variant.steps, ops)
        jumps.append(len(ops))
        ops.append(Op("jump", None))
    ops[head] = Op("split", step, tuple(starts))
    for jump in jumps:
        ops[jump] = Op("jump", None, (len(ops),))
