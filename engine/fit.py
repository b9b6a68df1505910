"""The exact-count loop: from a selection on estimated costs to the exact token target.

Word costs are estimates (see :mod:`tersify.job`), so the loop counts the assembled prompt for
real, takes back the last additions while it is over the target, and grows again while it is
under, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable

from tersify.assemble import Slice, prompt_parts
from tersify.job import Job
from tersify.policies import Plan
from tersify.prompt_tokens import joined_slices
from tersify.select import grow, select, take_back, unit_order

__all__ = ["MAX_ROUNDS", "run"]

MAX_ROUNDS = 12


def run(job: Job, plan: Plan) -> tuple[set[int], int]:
    """Select words and fit them to the exact target; returns kept words and prompt tokens."""
    count = _counter(job, plan)
    if job.original_tokens <= job.target:  # the budget holds it all (word costs add up to
        everything = set(range(len(job.costs)))  # more than the joint count, so selection
        return everything, count(everything)  # alone could leave a few words out)
    problem = job.problem(plan)
    chosen = select(problem)
    order = unit_order(problem)
    n = count(chosen.kept)
    step = 1.0
    for _ in range(MAX_ROUNDS):
        if n > job.target and chosen.groups:
            take_back(problem, chosen, n - job.target)
        elif n < job.target and step >= 0.05:
            before = len(chosen.kept)
            grow(problem, chosen, order, (job.target - n) * step)
            if len(chosen.kept) == before:
                break
            step /= 2  # each growth that has to be taken back is half as bold next time
        else:
            break
        n = count(chosen.kept)
    while n > job.target and chosen.groups:
        take_back(problem, chosen, n - job.target)
        n = count(chosen.kept)
    return chosen.kept, n


def _counter(job: Job, plan: Plan) -> Callable[[set[int]], int]:
    """Exact tokens of the prompt that a set of kept words assembles to."""
    req = job.req

    instruction: list[Slice] = [(req.instruction, 0, len(req.instruction))]
    question: list[Slice] = [(req.question, 0, len(req.question))]

    def count(kept: set[int]) -> int:
        docs = [slices for _, _, slices in job.rendered(kept)]
        parts = prompt_parts(instruction, docs, question, reorder=req.reorder,
                             relevance=plan.doc_relevance)
        return job.tokens.count(joined_slices(parts))
    return count
