"""EchoTrail as the agent and the evaluator use it: recall memories for a goal (hybrid retrieval
from a local store or the memory service on the bus), and remember an episode if the critic
passes it.

    memory = EchoTrail(MemoryStore("memory.db"))            # or EchoTrail(RemoteMemory("memory:0"))
    agent.run(phone, goal, memories=memory.recall(goal))
    memory.remember(goal, result, provenance="task")         # judged; stored only over the threshold
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from agents.echotrail.critic import Critic, Episode, OfflineCritic
from agents.echotrail.trajectory import TrajectoryError, from_episode
from agents.gui.backends import Memory
from agents.gui.prompts import template


class EchoTrail:
    """`store` is a MemoryStore or a RemoteMemory (same methods). `keep_all`, if given, is a second
    store that receives every finished episode, judged or not (the no-critic ablation)."""

    def __init__(self, store: Any, critic: Critic | None = None, *, k: int = 3, mode: str = "hybrid",
                 floor: float = 0.55, lexical_floor: float = 0.5, write: bool = True, keep_all: Any = None) -> None:
        self.store, self.critic = store, critic or OfflineCritic()
        self.k, self.mode, self.floor, self.lexical_floor = k, mode, floor, lexical_floor
        self.write, self.keep_all = write, keep_all

    def recall(self, goal: str) -> list[Memory]:
        hits = self.store.search(goal, k=3 * self.k, mode=self.mode, floor=self.floor,
                                 lexical_floor=self.lexical_floor)
        memories, intents = [], set()
        for hit in hits:                # one per task: repeats of one success add nothing
            if hit.trajectory.intent.casefold() in intents:
                continue
            intents.add(hit.trajectory.intent.casefold())
            relevance = hit.semantic if hit.semantic is not None else (hit.lexical or 0.0)
            memories.append(Memory(task=hit.trajectory.intent, app=hit.trajectory.app,
                                   steps=[s.model_dump() for s in hit.trajectory.steps], score=hit.score,
                                   relevance=round(relevance, 4)))
        return memories[:self.k]

    @staticmethod
    def prompt(memories: list[Memory]) -> str:
        """The memories as the model input shows them (recorded with the episode)."""
        if not memories:
            return ""
        return template("memories").substitute(memories="\n".join(m.text() for m in memories))

    def remember(self, goal: str, result: Any, *, provenance: str = "task", source: str = "",
                 screenshots: tuple[Any, Any] = (None, None)) -> dict[str, Any]:
        """Judge a finished episode (agents.gui.agent.EpisodeResult) and store it if it passes.
        Returns the verdict: accepted, scores, reasons, and the stored id (None if not stored)."""
        steps = [asdict(s) for s in result.steps]
        episode = Episode(goal, steps, result.final_labels, result.status, result.answer,
                          result.final_fields, *screenshots)
        verdict = self.critic.judge(episode)
        out = {"accepted": verdict.accepted, "scores": verdict.scores.model_dump(), "total": verdict.scores.total,
               "reasons": verdict.reasons, "id": None}
        if not self.write or result.status not in ("complete", "answered", "infeasible"):
            return out
        try:
            trajectory = from_episode(goal, steps, status=result.status, answer=result.answer,
                                      scores=verdict.scores, provenance=provenance, source=source)
        except TrajectoryError as exc:
            out["reasons"].append(str(exc))
            return out
        if self.keep_all is not None:
            self.keep_all.add(trajectory)
        if verdict.accepted:
            out["id"] = self.store.add(trajectory)
        return out
