"""The offline default: a real policy that needs no model weights, for fresh machines, CI and demos.

It reads the goal once for what any GUI task is made of: the values to enter (quoted text, names,
phone numbers, emails, times, dates, durations), whether something is to be turned on or off, and
whether it is a question. Then, at every step, it scores what the screen offers against the goal
with a text embedder (all-MiniLM-L6-v2 offline; lexical where that is not installed) and takes
the best move:

    open the app the goal is about          enter an unused value into the field that fits it
    set a switch the goal names             tap the element that matches the goal best
    key a number into a digit keypad        commit (Save, OK, Send...) once the values are in
    scroll to what is not on screen yet     answer a question from what the screen shows
    go back when nothing fits               end: complete, or infeasible when what the goal
                                            names is not there

Everything it knows comes from the goal, the screen's elements and its own history (what it typed,
tapped and what that changed). No rule names a task or an app's internals, and it never reads
simulator state. Retrieved memories (EchoTrail) add evidence: an element a remembered successful
trajectory acted on next scores higher.
"""
from __future__ import annotations

import itertools
import random
import re
import threading
from collections.abc import Iterator
from functools import cached_property

import numpy as np

from agents.embed import Embedder, shared_embedder
from agents.gui.backends import Backend, Memory, Reply, StepContext, timed
from agents.gui.goal import (
    PHONE,
    TIME,
    TRIVIAL,
    WORD,
    Value,
    entry_values,
    number_read_for,
    read_goal,
    resolved_goal,
)
from agents.gui.history import is_keyboard, is_slider, screen_name
from agents.gui.prompts import Prompt
from control.phone.action import JSONAction
from control.phone.observation import UIElement

RECIPIENT = re.compile(r"recipient|\bto\b|name or (phone|number)", re.I)   # a field that addresses someone
NAMEISH = re.compile(r"[A-Z][a-z]+ [A-Z][a-z]+")
MEMORY_MARGIN = 0.15    # a remembered app is taken if the goal fits it about as well as the best one on screen
# The words of a question that ask rather than say what about ("Tell me the model name of this phone").
ASKING = frozenset("what which when where many much tell read look check does have there phone this that "
                   "name thing your give show know".split())
MEMORY_TRUST = 0.65     # the cosine of goal keys above which a remembered task is taken for this one
MEMORY_LOOSE = 0.2      # ... and above which one is taken when another retrieved memory confirms its path
MEMORY_AGREE = 0.5      # the path overlap (Jaccard) at which two memories confirm each other
# "on" as a state ("the first alarm that is on"), not a preposition ("Budget review on November 15")
SWITCHED_ON = re.compile(r"\b(active|switched on|turned on|enabled)\b|\bon\b(?!\s+(?:(?-i:[A-Z])|\d|(?:the|my|a)\b))",
                         re.I)
COMMIT = ("Save", "OK", "Done", "Send", "Set", "Add", "Start", "Delete", "Confirm", "Create", "Apply")


class OfflineBackend(Backend):
    """See the module docstring. `embedder` defaults to the process's shared one. `explore` > 0
    makes it an explorer (what a sampling temperature does for a model): with that probability a
    step takes a runner-up move (the second or third the rules propose), and with 0.3 times it
    something this episode has not tried on this screen; `seed` makes those choices repeatable."""

    name = "offline"

    def __init__(self, embedder: Embedder | None = None, *, floor: float = 0.25, explore: float = 0.0,
                 seed: int = 0) -> None:
        self.embedder = embedder or shared_embedder()
        self.floor, self.explore = floor, explore
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()

    def reply(self, context: StepContext, prompt: Prompt) -> Reply:
        def decide() -> tuple[str, JSONAction]:
            policy = Policy(context, self.embedder, self.floor)
            moves = policy.candidates()
            reason, action = next(moves, policy.fallback)
            if not self.explore:
                return reason, action
            with self.rng_lock:
                roll, pick = self.rng.random(), self.rng.random()
            if roll < self.explore:           # the runner-up move: what the policy nearly did
                alternatives = list(itertools.islice(moves, 2))
                if alternatives:
                    return alternatives[int(pick * len(alternatives))]
            elif roll < 1.3 * self.explore:   # now and then something nobody proposed
                return policy.untried(pick) or (reason, action)
            return reason, action

        (reason, action), seconds = timed(decide)
        return Reply(f"Reason: {reason}\nAction: {action.to_json()}", seconds)


class Policy:
    """One step's decision (a fresh object per step; memory of the episode is its history)."""

    def __init__(self, context: StepContext, embedder: Embedder, floor: float) -> None:
        self.c, self.e, self.floor = context, embedder, floor
        self.obs = context.observation
        self.elements = [e for e in self.obs.elements if not is_keyboard(e)]
        self.anchors = context.history.anchors
        self.goal, self.read_in = self._current_goal(context.goal)
        self.facts = read_goal(self.goal)
        typing = [a for a in self.anchors if a.action.action_type == "input_text" and a.effect]
        self.typed = {a.action.text for a in typing if "search" not in a.summary.split(":", 1)[0].casefold()}
        self.searched = {a.action.text for a in typing if "search" in a.summary.split(":", 1)[0].casefold()}
        self.tapped = [a for a in self.anchors if a.action.action_type in ("click", "long_press")]
        self.avoid = list(context.avoid) + [a.action for a in self.anchors if not a.effect]
        self.memories = trusted_memories(context.memories, self.goal)

    def _current_goal(self, goal: str) -> tuple[str, str]:
        """The goal to pursue at this step, and the app a looked-up value was read in (or ''). A goal
        that uses someone's number without giving it is two tasks: first what their number is, then,
        once a screen showing them has shown it, the goal with the number given (resolved_goal)."""
        who = read_goal(goal).lookup
        if who is None:
            return goal, ""
        screens = [(a.seen, a.screen) for a in self.anchors] + \
            [(tuple(e.label for e in self.elements), self.screen)]
        tapped = [""] + [a.target for a in self.anchors]        # what led to each of those screens
        for i, ((labels, screen), reached_by) in enumerate(zip(screens, tapped)):
            number = number_read_for(who, [(labels, reached_by)])
            if number is None:
                continue
            resolved = resolved_goal(goal, number)
            if resolved is None:          # a use of it this reader cannot restate: pursue the goal as given
                return goal, ""
            # leave the app it was read in once: unless the episode has gone home or opened an app since
            moved = any(a.action.action_type in ("navigate_home", "open_app") for a in self.anchors[i:])
            return resolved, "" if moved else screen.split("/")[0]
        return f"What is {who}'s phone number?", ""

    # -- the decision ----------------------------------------------------------------------------
    fallback = ("nothing on this screen fits the goal: go back", JSONAction("navigate_back"))

    def decide(self) -> tuple[str, JSONAction]:
        return next(self.candidates(), self.fallback)

    def candidates(self) -> Iterator[tuple[str, JSONAction]]:
        """Every move the rules propose, best first (the first is the decision; an explorer may
        take a later one): each rule in order, and the three best-matching taps."""
        rules = (self._leave_source, self._confirm, self._finished, self._remembered_done, self._choose_app,
                 self._answer, self._switch, self._remembered, self._seek_switch, self._keypad, self._fill,
                 self._commit, self._infeasible, self._tap, lambda: self._tap(1), lambda: self._tap(2), self._scroll)
        seen = []
        for rule in rules:
            found = rule()
            if found is not None and not self._avoided(found[1]) and found[1] not in seen:
                seen.append(found[1])
                yield found

    def untried(self, pick: float) -> tuple[str, JSONAction] | None:
        """Something not yet tried on this screen (`pick` in [0, 1) chooses which): for exploring."""
        fresh = [e for e in self.elements if e.clickable and e.label and not e.editable
                 and "systemui" not in e.package and not self._done_here(e.label)]
        if not fresh:
            return None
        element = fresh[int(pick * len(fresh))]
        return f"exploring: '{element.label}' is untried here", JSONAction("click", index=self.idx(element))

    def _avoided(self, action: JSONAction) -> bool:
        return action in self.avoid

    def idx(self, element: UIElement) -> int:
        return self.obs.elements.index(element)

    @property
    def at_home(self) -> bool:
        return "launcher" in self.obs.package

    @property
    def screen(self) -> str:
        return screen_name(self.obs.package, self.obs.activity)

    def _done_here(self, label: str) -> bool:
        return any(a.screen == self.screen and a.target.casefold() == label.casefold() and a.effect
                   for a in self.anchors)

    def _memory_targets(self) -> list[str]:
        """Labels remembered trajectories tapped on this screen that this episode has not tapped here
        yet (values of the remembered goal left out: this goal has its own)."""
        targets = []
        for memory in self.memories[:1]:      # the best match only: the others are other tasks' habits
            for step in memory.steps:
                if step.get("screen") == self.screen and step.get("target") and not step.get("slot") \
                        and step.get("action") in ("click", "long_press") and not self._done_here(step["target"]):
                    targets.append(step["target"])
        return targets

    # -- rules, in order -------------------------------------------------------------------------
    def _leave_source(self) -> tuple[str, JSONAction] | None:
        """A value looked up in one app goes into another: from the app it was read in, go home."""
        if self.read_in and self.read_in in self.screen.split("/")[0] and not self.at_home:
            return f"the number is read; the rest of the goal is done elsewhere: {self.goal}", \
                JSONAction("navigate_home")
        return None

    def _confirm(self) -> tuple[str, JSONAction] | None:
        """A confirmation is open (Cancel beside Delete/OK/...): confirm what the goal asked for."""
        if self.facts.question or not any(e.label.casefold() == "cancel" and e.clickable for e in self.elements):
            return None
        buttons = [e for e in self.elements if e.clickable and e.label.casefold() != "cancel"
                   and any(re.fullmatch(rf"{w}( \w+)?", e.label, re.I) for w in COMMIT)]
        if not buttons or self.facts.polarity is not None and not self.facts.deletes:
            return None
        if self._fillable_here():
            return None      # a dialog with fields: fill them first (what none of them takes comes later)
        button = max(buttons, key=self.idx)
        return f"confirm with '{button.label}'", JSONAction("click", index=self.idx(button))

    def _finished(self) -> tuple[str, JSONAction] | None:
        """Done when the last step committed something, or set the switch the goal names."""
        if not self.anchors or self.facts.question:
            return None
        last = self.anchors[-1]
        label = last.target if last.action.action_type in ("click", "long_press", "keyboard_enter") else ""
        committed = last.effect and any(re.search(rf"\b{word}\b", label, re.I) for word in COMMIT)
        pending = any(e.label.casefold() == "cancel" for e in self.elements)     # a confirmation is still open
        committed = committed and not pending
        if committed and all(self._entered(v) for v in self._entry_values()):
            return (f"the last step ({label.split(':')[0]}) committed the change",
                    JSONAction("status", goal_status="complete"))
        if self.facts.polarity is not None and self.facts.targets:
            done = self._switched()
            if all(any(self._same(t, d) for d in done) for t in self.facts.targets):
                return "every switch the goal names is as it wants", JSONAction("status", goal_status="complete")
        return None

    def _remembered(self) -> tuple[str, JSONAction] | None:
        """The best-matching remembered success tapped something on this very screen that this
        episode has not: tap it too. Commits wait until the values are in; a value of the
        remembered goal (a contact's name) is not this goal's, so it is left to the other rules."""
        if not self.memories:
            return None
        if any(self._names_item(e.label) and not self._done_here(e.label) for e in self.elements if e.clickable):
            return None    # the item this goal names is here to tap: the remembered way was to another one's
        memory = self.memories[0]
        shown = {e.label.casefold(): e for e in self.elements if e.label and (e.clickable or e.checkable)}
        # the furthest step possible from here: a remembered path may wander (tabs tried in turn) first
        for step in reversed(memory.steps):
            target = step.get("target") or ""
            if step.get("screen") != self.screen or step.get("slot") or not target or \
                    step.get("action") not in ("click", "long_press") or self._done_here(target):
                continue
            element = shown.get(target.casefold()) or next(
                (e for e in self.elements if (e.checkable or is_slider(e))
                 and e.content_desc.casefold() == target.casefold()), None)
            if element is None or self._against_intent(target):
                continue
            if element.checkable and self.facts.polarity is not None and element.checked == self.facts.polarity:
                continue                  # already as this goal wants it
            if element.checkable and self.facts.targets and element is not self._goal_switch():
                continue                  # the remembered task switched something else than this goal names
            if re.search(rf"\b({'|'.join(COMMIT)})\b", target, re.I) and \
                    (not all(self._entered(v) for v in self._entry_values()) or self._keypad() is not None):
                continue
            kind = "long_press" if step.get("action") == "long_press" else "click"
            reason = f"a remembered success ({memory.task!r}) tapped '{target}' here"
            if step.get("at"):
                return reason + " at the same place within it", self._tap_within(element, step["at"], memory)
            return reason, JSONAction(kind, index=self.idx(element))
        return None

    def _tap_within(self, element: UIElement, at: list[float], memory: Memory) -> JSONAction:
        """A tap where the remembered one landed within the element (a slider set near one end),
        mirrored across it when the remembered goal went to the other extreme ("all the way up"
        remembered, "as dim as it goes" asked)."""
        across, down = at
        theirs = read_goal(memory.task).extreme
        if self.facts.extreme and theirs and self.facts.extreme != theirs:
            across = 1 - across
        b = element.bounds
        x = min(b.right - 1, max(b.left, round(b.left + across * (b.width - 1))))
        y = min(b.bottom - 1, max(b.top, round(b.top + down * b.height)))
        return JSONAction("click", x=x, y=y)

    def _remembered_done(self) -> tuple[str, JSONAction] | None:
        """This episode just did what the best-matching remembered success did last before it
        ended, on the same screen, with its values in: end the same way."""
        if not self.memories or not self.anchors or self.facts.question:
            return None
        memory = self.memories[0]
        acts = [s for s in memory.steps if s.get("action") not in ("status", "answer", "wait")]
        ending = memory.steps[-1] if memory.steps else {}
        if not acts or ending.get("action") != "status":
            return None
        last, mine = acts[-1], self.anchors[-1]
        if not last.get("target") or last.get("slot") or not mine.effect or mine.screen != last.get("screen") \
                or mine.target.casefold() != last["target"].casefold():
            return None
        if not all(self._entered(v) for v in self._entry_values()):
            return None
        if len(self.facts.targets) > len(read_goal(memory.task).targets) and not all(
                any(self._same(t, d) for d in self._switched()) for t in self.facts.targets):
            return None       # this goal names more switches than the remembered one did, not all set yet
        status = ending.get("text") if ending.get("text") in ("complete", "infeasible") else "complete"
        return f"a remembered success ended here ({memory.task!r})", JSONAction("status", goal_status=status)

    def _goal_switch(self) -> UIElement | None:
        """The switch on screen that the goal's targets name best (by the embedder)."""
        switches = [e for e in self.elements if e.checkable and (e.content_desc or e.label)]
        if not switches:
            return None
        scores = self.e.similarity(" ".join(self.facts.targets), [e.content_desc or e.label for e in switches])
        return switches[int(np.argmax(scores))]

    def _switched(self) -> set[str]:
        """Switches this episode saw in the state the goal wants (set by it, or already so)."""
        want = "on" if self.facts.polarity else "off"
        done = {m.group(1) for a in self.anchors for m in re.finditer(rf"'([^']+)' is now {want}", a.summary)}
        done |= {e.content_desc or e.label for e in self.elements if e.checkable and e.checked == self.facts.polarity}
        return done

    def _same(self, target: str, label: str) -> bool:
        a, b = set(WORD.findall(target.casefold())), set(WORD.findall(label.casefold()))
        return bool(a) and (a <= b or b <= a)

    def _choose_app(self) -> tuple[str, JSONAction] | None:
        """At home or in the wrong app: open the app whose name fits the goal (or the memory's)."""
        apps = [e for e in self.elements if e.clickable and e.label and self.at_home and not e.editable]
        if not self.at_home and self.anchors:
            return None
        if self.facts.question and self._labelled_value() is not None:
            return None    # the answer is on screen already (the status bar, say)
        opened = [a.action.app_name for a in self.anchors if a.action.action_type == "open_app"]
        remembered = [m.app for m in self.memories[:1] if m.app and m.app not in opened]
        if remembered and (not apps or self._app_score([remembered[0]])[0] >=
                           self._app_score([a.label for a in apps]).max() - MEMORY_MARGIN):
            return f"a remembered success used {remembered[0]}", JSONAction("open_app", app_name=remembered[0])
        if not apps:
            return None
        labels = [a.label for a in apps]
        scores = self._app_score(labels)
        for i, app in enumerate(apps):
            scores[i] -= 0.3 * opened.count(app.label)     # it was tried and the task is not done
        best = apps[int(scores.argmax())]
        in_drawer = any(e.editable for e in self.elements)   # the drawer has its search box
        if float(scores.max()) < 2 * self.floor and not in_drawer:
            return "no app on this page fits the goal: open the app drawer", JSONAction("swipe", direction="up")
        return f"'{best.label}' fits the goal best", JSONAction("open_app", app_name=best.label)

    def _app_score(self, labels: list[str]) -> np.ndarray:
        """How well each app name fits the goal: its meaning and its words."""
        return (self.e.similarity(self.facts.core, labels) + self.e.similarity(self.goal, labels)) / 2 \
            + self._word_overlap(labels)

    def _names_item(self, label: str) -> bool:
        """The label is the item the goal is about (a person, a title, its day), not a control the goal's
        words happen to cover ('Alarm' for "Set an alarm")."""
        items = self.facts.names + [v.text for v in self.facts.values if v.kind in ("text", "title")]
        if label.strip().isdigit():
            return self.named(label)
        return any(item.casefold() == label.casefold() for item in items)

    def named(self, label: str) -> bool:
        """The goal names this label outright: all its words are in the goal (and one is not trivial)."""
        words = set(WORD.findall(label.casefold()))
        if label.strip().isdigit():     # a bare number (a day, a key) is named as a day or a count, not
            number = int(label)         # as the minutes of a time ("3:30 PM" names no 30th)
            return number in {self.facts.date[1] if self.facts.date else None, self.facts.minutes}
        return bool(words) and words <= self.facts.words and not words <= TRIVIAL

    def _against_intent(self, label: str) -> bool:
        """Deleting when the goal creates or changes, or adding when it deletes."""
        first = (WORD.findall(label.casefold()) or [""])[0]
        if first in ("delete", "remove") and not self.facts.deletes:
            return True
        changes = self.facts.deletes or self.facts.new_value is not None or \
            (self.facts.polarity is not None and bool(self.facts.targets))   # what it names exists already
        return first in ("add", "create", "new") and changes and not self.facts.creates

    def _word_overlap(self, labels: list[str]) -> np.ndarray:
        """A bonus for labels whose words the goal uses ('note' and 'Notes', 'alarm' and 'Alarm')."""
        words = {w.rstrip("s") for w in re.findall(r"[a-z]+", self.goal.casefold()) if len(w) > 2}
        return np.array([0.3 if {w.rstrip("s") for w in re.findall(r"[a-z]+", label.casefold())} & words else 0.0
                         for label in labels], np.float32)

    def _answer(self) -> tuple[str, JSONAction] | None:
        """A question: answer from the screen once it shows what the question is about."""
        if not self.facts.question:
            return None
        answered_at = [s.get("screen") for m in self.memories[:1] for s in m.steps if s.get("action") == "answer"]
        if answered_at and self.screen not in answered_at and not self._on_subject():
            return None           # a remembered success answered on another screen: get there first
                                  # (not when this one is the page of what is asked about)
        searched_first = [s for m in self.memories[:1] for s in m.steps[:next(
            (i for i, s in enumerate(m.steps) if s.get("action") == "answer"), 0)] if s.get("action") == "input_text"]
        if searched_first and not self.searched and not self.typed and not self._on_subject():
            return None           # a remembered success searched before it answered: so does this one
                                  # (unless what the question is about is open already)
        goal = self.goal.casefold()
        labelled = self._labelled_value()
        if labelled is not None:
            return labelled
        if "how many" in goal or goal.startswith("count"):
            return self._count()
        values = [e for e in self.elements if e.text and not e.editable and e.text.casefold() not in goal
                  and "systemui" not in e.package]      # the status bar's clock answers no question
        if not values:
            return None
        if "number" in goal:
            found = [e for e in values if PHONE.fullmatch(e.text.strip())]
        elif re.search(r"\btime\b|\bwhen\b|earliest|first alarm|\bstart", goal):
            found = [e for e in values if TIME.search(e.text)]
            timed_switches = [e for e in self.elements if e.checkable and TIME.search(e.content_desc)]
            if timed_switches and SWITCHED_ON.search(self.goal):   # only what is switched on (alarms)
                on = [e for e in timed_switches if e.checked]
                found = [e for e in found if any(e.text in s.content_desc for s in on)]
            if not (found and self._on_subject()):
                return None
            return f"the screen shows the time {found[0].text}", \
                JSONAction("answer", text=TIME.search(found[0].text).group(0))
        elif re.search(r"\b(last|latest)\b", goal):   # the newest is the lowest on screen
            found = sorted((e for e in values if len(e.text) > 12), key=lambda e: -e.bounds.top)
        else:   # what something says: the longest text near the subject
            found = sorted((e for e in values if len(e.text) > 12), key=lambda e: -len(e.text))
        if found and self._on_subject():
            return f"the screen shows {found[0].text!r}", JSONAction("answer", text=found[0].text)
        return None

    def _labelled_value(self) -> tuple[str, JSONAction] | None:
        """A value under a label the goal names: a row "Model | Pixel 8" or a description
        "Battery 80 percent" (label first, value after)."""
        texts = [e for e in self.obs.elements if not e.editable]
        for i, element in enumerate(texts):
            words = WORD.findall(element.content_desc.casefold())
            if len(words) >= 2 and self.named(words[0]) and any(w.isdigit() for w in words[1:]):
                value = self._asked_part(element.content_desc.split(None, 1)[1])
                return f"'{element.content_desc}' answers it", JSONAction("answer", text=value)
            following = texts[i + 1] if i + 1 < len(texts) else None
            if element.text and self.named(element.text) and len(element.text.split()) == 1 and following \
                    and following.text and not following.clickable and abs(following.bounds.top - element.bounds.top) \
                    < element.bounds.height * 2 and not self.named(following.text):
                return f"'{element.text}' reads {following.text!r}", \
                    JSONAction("answer", text=self._asked_part(following.text))
        return None

    def _asked_part(self, value: str) -> str:
        """Of a span of times ('4:00 PM – 5:00 PM'), the one the question asks for: the start,
        unless it asks when something ends. A question for one value gets one."""
        times = list(TIME.finditer(value))
        if len(times) < 2 or not re.search(r"\btime\b|\bwhen\b|\bstart|\bend|\bfinish", self.goal, re.I):
            return value
        return (times[-1] if re.search(r"\b(end|finish)", self.goal, re.I) else times[0]).group(0).strip()

    def _on_subject(self) -> bool:
        """The screen is the page of what the question names: the episode tapped a label the goal
        names, and that label is still on screen (its page's title or header)."""
        if not self.anchors:
            return False
        tapped = [a for a in self.tapped if a.effect
                  and any(self.named(part) for part in re.findall(r"'([^']+)'", a.summary.split(":", 1)[0]))]
        if not tapped:   # nothing named was opened: fine only if nothing named is here to open,
            # and the screen speaks of what is asked about (a phone's model is not in its contacts)
            subject = {w.rstrip("s") for w in WORD.findall(self.facts.core.casefold())
                       if len(w) > 3 and not w.isdigit() and w not in ASKING}
            shown = {w.rstrip("s") for e in self.elements for w in WORD.findall(e.label.casefold())}
            return not any(self.named(e.label) for e in self.elements) and len(self.anchors) >= 1 and \
                (not subject or bool(subject & shown))
        shown = {e.label for e in self.elements}
        return any(label in shown for a in tapped for label in re.findall(r"'([^']+)'", a.summary.split(":", 1)[0]))

    def _count(self) -> tuple[str, JSONAction] | None:
        """'How many ...': count the rows that show what is asked about, once the list is on screen."""
        subject = next((n for n in self.facts.names), None)
        if subject is None:
            rows = [e for e in self.elements if e.clickable and not e.editable and e.resource_id.endswith("_row")]
            if self.anchors and rows and self.anchors[-1].effect:
                return f"{len(rows)} rows on this screen", JSONAction("answer", text=str(len(rows)))
            return None
        word = subject.split()[-1].casefold()
        if any(e.editable and _is_search(e) for e in self.elements) and not self.searched:
            return None       # a list with a search box: filter it by the name first (what is below the fold counts)
        matches = {e.text for e in self.elements if not e.editable and word in e.text.casefold().split()}
        if matches and len(self.anchors) >= 1:
            return f"{len(matches)} entries show {subject!r}", JSONAction("answer", text=str(len(matches)))
        return None

    def _switch(self) -> tuple[str, JSONAction] | None:
        """Flip a switch the goal names that is not yet as it wants."""
        if self.facts.polarity is None or not self.facts.targets:
            return None
        for element in self.elements:
            name = element.content_desc or element.label
            if element.checkable and element.checked != self.facts.polarity and \
                    any(self._same(t, name) for t in self.facts.targets):
                return (f"switch '{name}' {'on' if self.facts.polarity else 'off'}",
                        JSONAction("click", index=self.idx(element)))
        return None

    def _seek_switch(self) -> tuple[str, JSONAction] | None:
        """Switches still to set are not on this page, but this page had one: look elsewhere."""
        if self.facts.polarity is None or not self.facts.targets:
            return None
        done = self._switched()
        remaining = [t for t in self.facts.targets if not any(self._same(t, d) for d in done)]
        here = [e for e in self.elements if e.checkable]
        if remaining and here and not any(self._same(t, e.content_desc or e.label) for t in remaining for e in here):
            return f"{', '.join(remaining)} is on another page", JSONAction("navigate_back")
        return None

    def _keypad(self) -> tuple[str, JSONAction] | None:
        """A screen of digit buttons (a timer, a dialler): key in the duration the goal gives."""
        digits = {e.text: e for e in self.elements if e.clickable and len(e.text) == 1 and e.text.isdigit()}
        if self.facts.minutes is None or len(digits) < 10:
            return None
        wanted = f"{self.facts.minutes}00"
        keyed = [a for a in self.anchors[-len(wanted):] if a.action.index is not None and a.effect]
        count = 0
        for anchor in keyed:
            count = count + 1 if "tapped" in anchor.summary else 0
        entered = self._keyed_display()
        if entered == wanted:
            return None          # keyed in: commit next
        nxt = wanted[len(entered)] if wanted.startswith(entered) else None
        if nxt is None:
            return None
        return f"key in {nxt} of {wanted}", JSONAction("click", index=self.idx(digits[nxt]))

    def _keyed_display(self) -> str:
        """The digits a keypad's display shows (leading zeros dropped): the largest text on screen
        that is not a key and is made of digits and unit letters ("00h 05m 00s", "555-01")."""
        shown = [e for e in self.elements if not e.clickable and re.fullmatch(r"[\d\s:hms-]*\d[\d\s:hms-]*", e.text)]
        if not shown:
            return ""
        display = max(shown, key=lambda e: e.bounds.area)
        return re.sub(r"\D", "", display.text).lstrip("0")

    def _entered(self, value: Value) -> bool:
        """Whether this episode has typed `value` (whole, or in the pieces a form asked for)."""
        if value.text in self.typed:
            return True
        if value.kind == "name":
            first, _, last = value.text.partition(" ")
            return first in self.typed and last in self.typed
        if value.kind == "time" and self.facts.hour_minute:
            hour, minute = self.facts.hour_minute
            shown = self.typed | {e.text for e in self.elements if e.editable}     # a field may already read it
            if str(hour % 12 or 12) in shown and f"{minute:02d}" in shown:
                return True
            said = f"{hour % 12 or 12}:{minute:02d}"          # or the list shows it, saved
            return any(said in e.text for e in self.elements if not e.editable) and bool(self.tapped)
        if value.kind == "date" and self.facts.date:
            month, day = self.facts.date
            shown = self.typed | {e.text for e in self.elements if e.editable} | {   # a form may open with it set
                m.group(1) for a in self.anchors for m in re.finditer(r"now reads '([^']*)'", a.summary)}
            return any(t.endswith(f"-{month:02d}-{day:02d}") for t in shown)
        return False

    def _fill(self) -> tuple[str, JSONAction] | None:
        """Enter the next unused value into the field that fits it best (never into a search box:
        that only looks for what the goal names)."""
        fields = [e for e in self.elements if e.editable and e.enabled]
        if not fields:
            return None
        search = [f for f in fields if _is_search(f)]
        entries = [f for f in fields if f not in search]
        half = self._half_of_day()
        if half is not None:
            return half
        recipient = [f for f in entries if RECIPIENT.search(f.hint or f.resource_id)]
        names = [Value(n, "name") for n in self.facts.names if n not in [v.text for v in self._entry_values()]]
        for value in (self._entry_values() + (names if recipient else [])) if entries else []:
            pieces = self._pieces(value, entries)
            for text, hint_words in pieces:
                if text in self.typed:
                    continue
                free = [f for f in entries if not f.text or f.text not in self.typed]   # not over another value
                target = self._field_for(hint_words, free)
                if target is None or target.text == text:
                    continue
                if target in recipient and value.kind not in ("name", "phone"):
                    continue        # a field that addresses someone takes who, never what is said
                return (f"enter {text!r} into '{target.hint or target.label}'",
                        JSONAction("input_text", text=text, index=self.idx(target), clear_text=True))
        if search and self.facts.names and not self.facts.creates and not self.at_home and not self.searched:
            subject = self.facts.names[0]
            if not any(subject.casefold() == e.text.casefold() for e in self.elements if not e.editable):
                return (f"search for {subject!r}",
                        JSONAction("input_text", text=subject, index=self.idx(search[0]), clear_text=True))
        return None

    def _fillable_here(self) -> bool:
        """A value still to enter has a field on this screen to go into."""
        fields = [e for e in self.elements if e.editable and e.enabled and not _is_search(e)]
        if not fields:
            return False
        pending = [v for v in self._entry_values() if not self._entered(v)]
        return any(self._field_for(words, fields) is not None
                   for value in pending for text, words in self._pieces(value, fields) if text not in self.typed)

    def _half_of_day(self) -> tuple[str, JSONAction] | None:
        """A 12-hour picker: choose AM or PM as the goal's time says."""
        if self.facts.hour_minute is None:
            return None
        wanted = "PM" if self.facts.hour_minute[0] >= 12 else "AM"
        toggle = next((e for e in self.elements if e.label == wanted and e.checkable), None)
        if toggle is None or toggle.checked:
            return None
        return f"the time is {wanted}", JSONAction("click", index=self.idx(toggle))

    def _pieces(self, value: Value, fields: list[UIElement]) -> list[tuple[str, str]]:
        """(text to type, words describing the field it belongs in): a value may fill several."""
        hints = " ".join(f.hint for f in fields).casefold()
        if value.kind == "name" and "first name" in hints:
            first, _, last = value.text.partition(" ")
            return [(first, "first name"), (last, "last name")]
        if value.kind == "time" and "hour" in hints and self.facts.hour_minute:
            hour, minute = self.facts.hour_minute
            return [(str(hour % 12 or 12), "hour"), (f"{minute:02d}", "minute")]
        if value.kind == "date":
            year = next((f.text[:4] for f in fields if re.fullmatch(r"\d{4}-\d\d-\d\d", f.text)), None)
            if year is None:
                return []
            month, day = self.facts.date
            shown = next(f.text for f in fields if re.fullmatch(r"\d{4}-\d\d-\d\d", f.text))
            year = int(year) + (month < int(shown[5:7]))      # a date without a year: the next one to come
            return [(f"{year}-{month:02d}-{day:02d}", "date")]
        kind_words = {"phone": "phone number", "email": "email address", "time": "start time", "end": "end time finish",
                      "name": "name recipient to", "text": "title text message note label",
                      "title": "title label name"}
        return [(value.text, kind_words.get(value.kind, "text"))]

    def _field_for(self, words: str, fields: list[UIElement]) -> UIElement | None:
        described = [(f.hint or f.resource_id.rsplit("/", 1)[-1] or f.label) for f in fields]
        scores = self.e.similarity(words, described)
        order = list(scores.argsort()[::-1])
        for i in order:
            if scores[i] >= self.floor * 0.6:
                return fields[int(i)]
        return None

    def _entry_values(self) -> list[Value]:
        return entry_values(self.facts)

    def _commit(self) -> tuple[str, JSONAction] | None:
        """Once every value is in, press the button that commits (Save, OK, Send...)."""
        values = self._entry_values()
        digits = sum(1 for e in self.elements if e.clickable and len(e.text) == 1 and e.text.isdigit())
        keyed = self.facts.minutes and digits >= 10 and self._keyed_display() == f"{self.facts.minutes}00"
        if not keyed and (not values or not all(self._entered(v) for v in values)):
            return None
        buttons = [e for e in self.elements if e.clickable and any(re.fullmatch(rf"{w}( \w+)?", e.label, re.I)
                                                                  for w in COMMIT)]
        if not buttons:
            return None
        buttons = [b for b in buttons if not self._against_intent(b.label)]
        if not buttons:
            return None
        # the topmost one (a dialog's buttons come after the screen under it)
        topmost = max(buttons, key=self.idx)
        return f"everything is entered: press '{topmost.label}'", JSONAction("click", index=self.idx(topmost))

    def _infeasible(self) -> tuple[str, JSONAction] | None:
        """What the goal names is not here: searched for and not found, or nothing fits at all."""
        empty = any(re.search(r"\bno \w+ (found|match)|^no \w+$", e.text, re.I) for e in self.elements)
        if empty and self.searched and not self.facts.creates:
            return "a search for what the goal names finds nothing", JSONAction("status", goal_status="infeasible")
        if len(self.anchors) >= self.c.max_steps - 2:
            return "the step budget is spent without finding a way", JSONAction("status", goal_status="infeasible")
        return None

    def _tap(self, rank: int = 0) -> tuple[str, JSONAction] | None:
        """Tap the element that matches the goal best, or the `rank`-th best (0 is the best)."""
        ranking = self._tap_ranking
        if ranking is None:
            return None
        candidates, labels, scores, order = ranking
        if rank >= len(order) or scores[order[rank]] < self.floor:
            return None
        best = int(order[rank])
        how = "best" if rank == 0 else f"{rank + 1}. best"
        return f"'{labels[best]}' matches the goal {how} ({scores[best]:.2f})", \
            JSONAction("click", index=self.idx(candidates[best]))

    @cached_property
    def _tap_ranking(self) -> tuple[list[UIElement], list[str], np.ndarray, np.ndarray] | None:
        """The tappable elements scored against the goal (and the memory's next step, if any),
        once per step: every rank of `_tap` reads it."""
        candidates = [e for e in self.elements if (e.clickable or e.label) and not e.editable and e.label
                      and e.bounds.area > 0 and "systemui" not in e.package]
        if not candidates:
            return None
        labels = [e.label for e in candidates]
        scores = self.e.similarity(self.facts.core, labels) + self._word_overlap(labels)
        for i, (label, element) in enumerate(zip(labels, candidates)):
            if self.named(label):           # the goal names it outright (a contact, a note, an alarm's time):
                scores[i] += 0.45 + 0.15 * len(WORD.findall(label))  # the longer the name, the surer
            elif len(label.split()) > 4:
                scores[i] -= 0.25           # a sentence on screen (a message, a note's text) is content, not a control
            if self.facts.names and NAMEISH.fullmatch(label) and label not in self.facts.names \
                    and not any(label in n or n in label for n in self.facts.names):
                scores[i] -= 0.4            # someone else: sharing a first name does not make it them
            if element.resource_id.endswith("/summary"):
                scores[i] -= 0.3            # a row's second line describes the row; it is not the row
            if element.selected:
                scores[i] -= 0.5            # the tab already shown
            if self._against_intent(label):
                scores[i] -= 0.6
        for target in self._memory_targets():
            for i, label in enumerate(labels):
                if label.casefold() == target.casefold():
                    scores[i] += 0.5        # a remembered success went this way
        for i, element in enumerate(candidates):
            times = sum(1 for a in self.tapped if element.label in a.summary.split(":", 1)[0])
            scores[i] -= 0.35 * times       # tried already
            if self._avoided(JSONAction("click", index=self.idx(element))):
                scores[i] -= 1.0
        return candidates, labels, scores, np.argsort(-scores)

    def _scroll(self) -> tuple[str, JSONAction] | None:
        lists = [e for e in self.elements if e.scrollable]
        if not lists:
            return None
        scrolls = sum(1 for a in self.anchors[-4:] if a.action.action_type == "scroll" and a.effect)
        direction = "down" if scrolls < 3 else "up"
        return f"what the goal names may be further {direction}", \
            JSONAction("scroll", direction=direction, index=self.idx(lists[0]))


def _is_search(field: UIElement) -> bool:
    return "search" in (field.hint + field.resource_id).casefold()


def trusted_memories(memories: list[Memory], goal: str) -> list[Memory]:
    """The memories to follow, best first. Another task's habits mislead, so only memories of the
    same kind of task (deleting, asking, or neither): first
    those whose task is close to this goal (relevance >= MEMORY_TRUST), then those another
    retrieved one confirms (same app, mostly the same path) that are not far off: two separate
    successes that went one way are better evidence for this goal's way than one loose match."""
    memories = [m for m in memories if _task_kind(m.task) == _task_kind(goal)]
    close = [m for m in memories if m.relevance >= MEMORY_TRUST]
    agreed = [m for m in memories if m not in close and m.relevance >= MEMORY_LOOSE and
              any(o is not m and o.app == m.app and _path_overlap(m, o) >= MEMORY_AGREE for o in memories)]
    same_way = read_goal(goal).polarity          # of switch memories, those that switched the same way first
    return sorted(close, key=lambda m: read_goal(m.task).polarity != same_way) + \
        sorted(agreed, key=lambda m: len(m.steps))    # of agreeing paths, the shortest first


def _task_kind(goal: str) -> tuple[bool, bool, bool]:
    """Deleting, asking, setting a level all the way: the kinds the goal reader tells apart reliably
    (creating and switching it reads from words like 'set' and 'on' that many goals use loosely)."""
    facts = read_goal(goal)
    return facts.deletes, facts.question, facts.extreme is not None


def _path_overlap(a: Memory, b: Memory) -> float:
    """Jaccard overlap of two memories' paths: (screen, action, target) per step, goal values aside."""
    def path(memory: Memory) -> set[tuple[str, str, str]]:
        return {(s.get("screen", ""), s.get("action", ""), "" if s.get("slot") else s.get("target", ""))
                for s in memory.steps if "launcher" not in s.get("screen", "")}
    pa, pb = path(a), path(b)
    return len(pa & pb) / len(pa | pb) if pa | pb else 0.0


def memory_guidance(memories: list[Memory]) -> list[str]:
    """The memories as the text a chat model gets (the offline policy uses their steps directly)."""
    return [m.text() for m in memories]
