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

import calendar
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from agents.embed import Embedder, shared_embedder
from agents.gui.backends import Backend, Memory, Reply, StepContext, timed
from agents.gui.history import is_keyboard
from agents.gui.prompts import Prompt
from control.phone.action import JSONAction
from control.phone.observation import UIElement

COMMIT = ("Save", "OK", "Done", "Send", "Set", "Add", "Start", "Delete", "Confirm", "Create", "Apply")
DELETE = re.compile(r"\b(delete|remove|cancel|get rid of|throw away)\b", re.I)
CHANGE = re.compile(r"\b(change|move|rename|update|edit|make)\b.*\bto\b\s+(.+?)[.!]?$", re.I)
KEEP = re.compile(r"\b(but )?(leave|keep)\b.*$", re.I)
WORD = re.compile(r"[a-z0-9]+")
TRIVIAL = frozenset("on off the a an to my and of in at for ok yes no all is it me by from with".split())
CREATE = re.compile(r"^\s*(add|create|new|make|write|save|set|schedule|put|start|wake|time|i need an alarm|"
                    r"i have)\b|\bnew (note|contact|alarm|event)\b", re.I)
QUESTION = re.compile(r"^\s*(what|how|which|when|who|where|tell|read|look up|check|count|is|are|do)\b", re.I)
ON = re.compile(r"\b(turn|switch|set|put)\b[^.]*\bon\b|\benable\b|\bactivate\b|\bon\b\.?$", re.I)
OFF = re.compile(r"\b(turn|switch|set|put)\b[^.]*\boff\b|\bdisable\b|\bdeactivate\b|\boff\b\.?$", re.I)
TIME = re.compile(r"\b(\d{1,2}):(\d{2})\s*(AM|PM|am|pm)?\b")
PHONE = re.compile(r"\+?\d[\d ()-]{6,}\d")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]")
MINUTES = re.compile(r"\b(\d{1,3})[- ]minute", re.I)
DATE = re.compile(r"\b(" + "|".join(calendar.month_name[1:]) + r")\s+(\d{1,2})\b")
NAME = re.compile(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)\b")
STOP = {"Turn", "Set", "Add", "Create", "Delete", "Remove", "Text", "Send", "Start", "Switch", "What", "How",
        "Which", "When", "Make", "Save", "Change", "Move", "Rename", "Reply", "Read", "Put", "Schedule", "Copy",
        "Look", "Count", "Cancel", "Message", "Write", "Answer", "Wake", "Time", "Tell", "Call", "Show", "Check",
        "Get", "Throw", "Of", "In", "On", "The", "My", "Is", "Do", "Let", "I", "Wi", "Fi", "Bluetooth",
        "Wi-Fi", "NFC", "Settings", "Contacts", "Clock", "Notes", "Messages", "Calendar", "Disable", "Enable",
        "Update", "Open", "Please", "Find", "Note", "Alarm", "Event", "Timer"} | set(calendar.month_name[1:])


@dataclass
class Value:
    """Something the goal wants entered: its text, and what kind of field takes it."""

    text: str
    kind: str        # name, phone, email, time, date, minutes, text


@dataclass
class GoalFacts:
    core: str                                 # the goal without its values: what it is about
    question: bool
    creates: bool                             # what the goal names is new (not to be looked up)
    polarity: bool | None                     # turn something on (True) or off (False)
    deletes: bool = False
    new_value: str | None = None              # "... to X": what something is to become
    words: frozenset = frozenset()            # the goal's words, for labels it names outright
    targets: list[str] = field(default_factory=list)   # what to switch on or off
    values: list[Value] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    hour_minute: tuple[int, int] | None = None
    date: tuple[int, int] | None = None       # (month, day)
    minutes: int | None = None


@lru_cache(maxsize=512)
def read_goal(goal: str) -> GoalFacts:
    """What the goal asks for, read without knowing which task it is."""
    wanted = KEEP.sub("", goal)          # "..., but leave airplane mode on": what not to touch is not asked
    facts = GoalFacts(core=goal, question=bool(QUESTION.match(goal)) or goal.rstrip().endswith("?"),
                      creates=bool(CREATE.search(goal)), deletes=bool(DELETE.search(goal)),
                      words=frozenset(WORD.findall(wanted.casefold())),
                      polarity=True if ON.search(wanted) else False if OFF.search(wanted) else None)
    quoted = QUOTED.findall(goal)
    rest = QUOTED.sub(" ", goal)
    for email in EMAIL.findall(rest):
        facts.values.append(Value(email, "email"))
        rest = rest.replace(email, " ")
    for number in PHONE.findall(rest):
        if not TIME.fullmatch(number.strip()):
            facts.values.append(Value(number.strip(), "phone"))
            rest = rest.replace(number, " ")
    times = TIME.findall(rest)
    if times:
        hour, minute, half = times[0]
        h = int(hour) % 12 + (12 if half.lower() == "pm" else 0) if half else int(hour)
        facts.hour_minute = (h, int(minute))
        facts.values.append(Value(f"{h:02d}:{int(minute):02d}", "time"))
    date = DATE.search(rest)
    if date:
        facts.date = (list(calendar.month_name).index(date.group(1)), int(date.group(2)))
        facts.values.append(Value(f"{facts.date[0]:02d}-{facts.date[1]:02d}", "date"))
    minutes = MINUTES.search(rest)
    if minutes:
        facts.minutes = int(minutes.group(1))
    facts.values += [Value(q, "text") for q in quoted]
    facts.names = [n for n in NAME.findall(QUOTED.sub(" ", goal)) if n.split()[0] not in STOP]
    if not facts.question:
        facts.values += [Value(n, "name") for n in facts.names if len(n.split()) == 2]
    change = CHANGE.search(QUOTED.sub(lambda m: m.group(1), goal))
    if change and not facts.creates:
        facts.new_value = change.group(2).strip().strip("\"'")
    if facts.polarity is not None:    # "turn off Wi-Fi and Bluetooth, but leave airplane mode off"
        named = KEEP.sub("", re.sub(r"\b(turn|switch|set|put|enable|disable|on|off|the|both|please)\b", " ",
                                    goal, flags=re.I))
        facts.targets = [t.strip(" .,") for t in re.split(r",|\band\b", named) if t.strip(" .,")]
    core = QUOTED.sub(" ", goal)
    for value in facts.values + [Value(n, "name") for n in facts.names]:
        core = core.replace(value.text, " ")
    facts.core = re.sub(r"\s+", " ", TIME.sub(" ", core)).strip()
    return facts


class OfflineBackend(Backend):
    """See the module docstring. `embedder` defaults to the process's shared one."""

    name = "offline"

    def __init__(self, embedder: Embedder | None = None, *, floor: float = 0.25) -> None:
        self.embedder = embedder or shared_embedder()
        self.floor = floor

    def reply(self, context: StepContext, prompt: Prompt) -> Reply:
        (reason, action), seconds = timed(lambda: Policy(context, self.embedder, self.floor).decide())
        return Reply(f"Reason: {reason}\nAction: {action.to_json()}", seconds)


class Policy:
    """One step's decision (a fresh object per step; memory of the episode is its history)."""

    def __init__(self, context: StepContext, embedder: Embedder, floor: float) -> None:
        self.c, self.e, self.floor = context, embedder, floor
        self.goal = context.goal
        self.facts = read_goal(context.goal)
        self.obs = context.observation
        self.elements = [e for e in self.obs.elements if not is_keyboard(e)]
        self.anchors = context.history.anchors
        typing = [a for a in self.anchors if a.action.action_type == "input_text" and a.effect]
        self.typed = {a.action.text for a in typing if "search" not in a.summary.split(":", 1)[0].casefold()}
        self.searched = {a.action.text for a in typing if "search" in a.summary.split(":", 1)[0].casefold()}
        self.tapped = [a for a in self.anchors if a.action.action_type in ("click", "long_press")]
        self.avoid = list(context.avoid) + [a.action for a in self.anchors if not a.effect]

    # -- the decision ----------------------------------------------------------------------------
    def decide(self) -> tuple[str, JSONAction]:
        for rule in (self._confirm, self._finished, self._choose_app, self._answer, self._switch, self._seek_switch,
                     self._keypad, self._fill,
                     self._commit, self._infeasible, self._tap, self._scroll):
            found = rule()
            if found is not None and not self._avoided(found[1]):
                return found
        return "nothing on this screen fits the goal: go back", JSONAction("navigate_back")

    def _avoided(self, action: JSONAction) -> bool:
        return action in self.avoid

    def idx(self, element: UIElement) -> int:
        return self.obs.elements.index(element)

    @property
    def at_home(self) -> bool:
        return "launcher" in self.obs.package

    def _memory_targets(self) -> list[str]:
        """Labels remembered trajectories acted on next, given how far this episode has come."""
        done = len(self.anchors)
        targets = []
        for memory in self.c.memories:
            for step in memory.steps[done:done + 2]:
                if step.get("target"):
                    targets.append(step["target"])
        return targets

    # -- rules, in order -------------------------------------------------------------------------
    def _confirm(self) -> tuple[str, JSONAction] | None:
        """A confirmation is open (Cancel beside Delete/OK/...): confirm what the goal asked for."""
        if self.facts.question or not any(e.label.casefold() == "cancel" and e.clickable for e in self.elements):
            return None
        buttons = [e for e in self.elements if e.clickable and e.label.casefold() != "cancel"
                   and any(re.fullmatch(rf"{w}( \w+)?", e.label, re.I) for w in COMMIT)]
        if not buttons or self.facts.polarity is not None and not self.facts.deletes:
            return None
        if any(e.editable for e in self.elements) and not all(self._entered(v) for v in self._entry_values()):
            return None      # a dialog with fields: fill them first
        button = max(buttons, key=self.idx)
        return f"confirm with '{button.label}'", JSONAction("click", index=self.idx(button))

    def _finished(self) -> tuple[str, JSONAction] | None:
        """Done when the last step committed something, or set the switch the goal names."""
        if not self.anchors or self.facts.question:
            return None
        last = self.anchors[-1]
        label = (last.summary.split("tapped ", 1)[-1] if "tapped " in last.summary else "")
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
        remembered = [m.app for m in self.c.memories if m.app]
        apps = [e for e in self.elements if e.clickable and e.label and self.at_home and not e.editable]
        if not self.at_home and self.anchors:
            return None
        if remembered:
            return f"a remembered trajectory used {remembered[0]}", JSONAction("open_app", app_name=remembered[0])
        if not apps:
            return None
        if self.facts.question and self._labelled_value() is not None:
            return None    # the answer is on screen already (the status bar, say)
        labels = [a.label for a in apps]
        scores = (self.e.similarity(self.facts.core, labels) + self.e.similarity(self.goal, labels)) / 2 \
            + self._word_overlap(labels)
        opened = [a.action.app_name for a in self.anchors if a.action.action_type == "open_app"]
        for i, app in enumerate(apps):
            scores[i] -= 0.3 * opened.count(app.label)     # it was tried and the task is not done
        best = apps[int(scores.argmax())]
        in_drawer = any(e.editable for e in self.elements)   # the drawer has its search box
        if float(scores.max()) < 2 * self.floor and not in_drawer:
            return "no app on this page fits the goal: open the app drawer", JSONAction("swipe", direction="up")
        return f"'{best.label}' fits the goal best", JSONAction("open_app", app_name=best.label)

    def named(self, label: str) -> bool:
        """The goal names this label outright: all its words are in the goal (and one is not trivial)."""
        words = set(WORD.findall(label.casefold()))
        return bool(words) and words <= self.facts.words and not words <= TRIVIAL

    def _against_intent(self, label: str) -> bool:
        """Deleting when the goal creates or changes, or adding when it deletes."""
        first = (WORD.findall(label.casefold()) or [""])[0]
        if first in ("delete", "remove") and not self.facts.deletes:
            return True
        return first in ("add", "create", "new") and self.facts.deletes and not self.facts.creates

    def _word_overlap(self, labels: list[str]) -> np.ndarray:
        """A bonus for labels whose words the goal uses ('note' and 'Notes', 'alarm' and 'Alarm')."""
        words = {w.rstrip("s") for w in re.findall(r"[a-z]+", self.goal.casefold()) if len(w) > 2}
        return np.array([0.3 if {w.rstrip("s") for w in re.findall(r"[a-z]+", label.casefold())} & words else 0.0
                         for label in labels], np.float32)

    def _answer(self) -> tuple[str, JSONAction] | None:
        """A question: answer from the screen once it shows what the question is about."""
        if not self.facts.question:
            return None
        goal = self.goal.casefold()
        labelled = self._labelled_value()
        if labelled is not None:
            return labelled
        if "how many" in goal or goal.startswith("count"):
            return self._count()
        values = [e for e in self.elements if e.text and not e.editable and e.text.casefold() not in goal]
        if not values:
            return None
        if "number" in goal:
            found = [e for e in values if PHONE.fullmatch(e.text.strip())]
        elif re.search(r"\btime\b|\bwhen\b|earliest|first alarm|\bstart", goal):
            found = [e for e in values if TIME.search(e.text)]
            if re.search(r"\b(on|active|switched on)\b", goal):   # only what is switched on
                on = [e for e in self.elements if e.checkable and e.checked and TIME.search(e.content_desc)]
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
                value = element.content_desc.split(None, 1)[1]
                return f"'{element.content_desc}' answers it", JSONAction("answer", text=value)
            following = texts[i + 1] if i + 1 < len(texts) else None
            if element.text and self.named(element.text) and len(element.text.split()) == 1 and following \
                    and following.text and not following.clickable and abs(following.bounds.top - element.bounds.top) \
                    < element.bounds.height * 2 and not self.named(following.text):
                return f"'{element.text}' reads {following.text!r}", JSONAction("answer", text=following.text)
        return None

    def _on_subject(self) -> bool:
        """The screen is the page of what the question names: the episode tapped a label the goal
        names, and that label is still on screen (its page's title or header)."""
        if not self.anchors:
            return False
        tapped = [a for a in self.tapped if a.effect
                  and any(self.named(part) for part in re.findall(r"'([^']+)'", a.summary.split(":", 1)[0]))]
        if not tapped:   # nothing named was opened: fine only if nothing named is here to open
            return not any(self.named(e.label) for e in self.elements) and len(self.anchors) >= 1
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

    def _values(self) -> list[Value]:
        return self.facts.values

    def _entered(self, value: Value) -> bool:
        """Whether this episode has typed `value` (whole, or in the pieces a form asked for)."""
        if value.text in self.typed:
            return True
        if value.kind == "name":
            first, _, last = value.text.partition(" ")
            return first in self.typed and last in self.typed
        if value.kind == "time" and self.facts.hour_minute:
            hour, minute = self.facts.hour_minute
            return str(hour % 12 or 12) in self.typed and f"{minute:02d}" in self.typed
        if value.kind == "date" and self.facts.date:
            month, day = self.facts.date
            return any(t.endswith(f"-{month:02d}-{day:02d}") for t in self.typed)
        return False

    def _fill(self) -> tuple[str, JSONAction] | None:
        """Enter the next unused value into the field that fits it best (never into a search box:
        that only looks for what the goal names)."""
        fields = [e for e in self.elements if e.editable and e.enabled]
        if not fields:
            return None
        search = [f for f in fields if "search" in (f.hint + f.resource_id).casefold()]
        entries = [f for f in fields if f not in search]
        half = self._half_of_day()
        if half is not None:
            return half
        for value in self._entry_values() if entries else []:
            pieces = self._pieces(value, entries)
            for text, hint_words in pieces:
                if text in self.typed:
                    continue
                target = self._field_for(hint_words, entries)
                if target is None:
                    continue
                if target.text == text:
                    continue
                return (f"enter {text!r} into '{target.hint or target.label}'",
                        JSONAction("input_text", text=text, index=self.idx(target), clear_text=True))
        if search and self.facts.names and not self.facts.creates and not self.at_home and not self.searched:
            subject = self.facts.names[0]
            if not any(subject.casefold() == e.text.casefold() for e in self.elements if not e.editable):
                return (f"search for {subject!r}",
                        JSONAction("input_text", text=subject, index=self.idx(search[0]), clear_text=True))
        return None

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
        kind_words = {"phone": "phone number", "email": "email address", "time": "start time",
                      "name": "name recipient to", "text": "title text message note label name"}
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
        """The values to type into a form. A goal that creates something types all of them; one
        that changes something types only what it becomes ("... to X"); one that deletes or asks
        types none (its values name what to find); otherwise (texting, say) all but the names."""
        facts = self.facts
        if facts.question or (facts.deletes and not facts.creates):
            return []
        if facts.new_value is not None:
            typed = [v for v in facts.values if v.text in facts.new_value or facts.new_value in v.text]
            return typed or [Value(facts.new_value, "text")]
        return [v for v in self._values() if facts.creates or v.kind != "name"]

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

    def _tap(self) -> tuple[str, JSONAction] | None:
        """Tap the element that matches the goal best (and the memory's next step, if any)."""
        candidates = [e for e in self.elements if (e.clickable or e.label) and not e.editable and e.label
                      and e.bounds.area > 0 and "systemui" not in e.package]
        if not candidates:
            return None
        labels = [e.label for e in candidates]
        scores = self.e.similarity(self.facts.core, labels) + self._word_overlap(labels)
        for i, (label, element) in enumerate(zip(labels, candidates)):
            if self.named(label):           # the goal names it outright (a contact, a note, an alarm's time):
                scores[i] += 0.3 + 0.15 * len(WORD.findall(label))   # the longer the name, the surer
            elif len(label.split()) > 4:
                scores[i] -= 0.25           # a sentence on screen (a message, a note's text) is content, not a control
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
        best = int(scores.argmax())
        if scores[best] < self.floor:
            return None
        return f"'{labels[best]}' matches the goal best ({scores[best]:.2f})", \
            JSONAction("click", index=self.idx(candidates[best]))

    def _scroll(self) -> tuple[str, JSONAction] | None:
        lists = [e for e in self.elements if e.scrollable]
        if not lists:
            return None
        scrolls = sum(1 for a in self.anchors[-4:] if a.action.action_type == "scroll" and a.effect)
        direction = "down" if scrolls < 3 else "up"
        return f"what the goal names may be further {direction}", \
            JSONAction("scroll", direction=direction, index=self.idx(lists[0]))


def memory_guidance(memories: list[Memory]) -> list[str]:
    """The memories as the text a chat model gets (the offline policy uses their steps directly)."""
    return [m.text() for m in memories]
