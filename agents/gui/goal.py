"""Reading a goal in words for what any GUI task is made of, without knowing which task it is:
the values to enter (quoted text, names, phone numbers, emails, times, dates, durations), whether
something is to be switched on or off, created, changed or deleted, and whether it is a question.

Shared by the offline policy (what to type, what to tap) and EchoTrail (`goal_key`: the goal with
its values replaced by what kind of value they are, so "Text Pedro: 'hi'" and "Message Amara
'thanks'" look alike to retrieval).
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

DELETE = re.compile(r"\b(delete|remove|cancel|get rid of|throw away)\b", re.I)
CHANGE = re.compile(r"\b(change|move|rename|update|edit|make)\b.*\bto\b\s+(.+?)[.!]?$"
                    r"|\b(should|to) be (?:called|named|titled)\s+(.+?)[.!]?$", re.I)
KEEP = re.compile(r"\b(but )?(leave|keep)\b.*$", re.I)
WORD = re.compile(r"[a-z0-9]+")
TRIVIAL = frozenset("on off the a an to my and of in at for ok yes no all is it me by from with".split())
CREATE = re.compile(r"^\s*(add|create|new|make|write|save|set|schedule|put|start|wake|time|i need an alarm|"
                    r"i have)\b|\bnew (note|contact|alarm|event)\b", re.I)
QUESTION = re.compile(r"^\s*(what|how|which|when|who|where|tell|read|look up|check|count|is|are|do)\b", re.I)
# "on" as a state, not a preposition: "Wi-Fi on", "on." -- but not "on my phone", "on December 3"
_STATE = (r"(?!\s+(?:(?:my|the|a|an|this|that|your|it|to|at|" + "|".join(calendar.month_name[1:]) + "|"
          + "|".join(calendar.day_name) + r")\b|\d))")
ON = re.compile(r"\b(turn|switch|put)\s+on\b|\b(turn|switch|set|put)\b[^.]*\bon\b" + _STATE +
                r"|\benable\b|\bactivate\b|\bon\b\.?$|\b[\w-]+ on\b" + _STATE, re.I)
OFF = re.compile(r"\b(turn|switch|set|put)\b[^.]*\boff\b|\bdisable\b|\bdeactivate\b|\boff\b\.?$", re.I)
TIME = re.compile(r"\b(\d{1,2}):(\d{2})\s*(AM|PM|am|pm)?\b")
# two times, a start and an end: "2:00 PM to 3:30 PM", "between 9:00 AM and 10:30 AM"
SPAN = re.compile(TIME.pattern + r"\s*(?:to|until|–|-)\s*" + TIME.pattern + r"|\bbetween\s+" + TIME.pattern
                  + r"\s+and\s+" + TIME.pattern)
PHONE = re.compile(r"\+?\d[\d ()-]{6,}\d")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]")
MINUTES = re.compile(r"\b(\d{1,3})[- ]minute", re.I)
DATE = re.compile(r"\b(" + "|".join(calendar.month_name[1:]) + r")\s+(\d{1,2})\b")
# A value the goal uses without giving it: someone's number, to be read in one app and written in another
REFERRED = re.compile(r"\b([A-Z][a-z]+ [A-Z][a-z]+)['’]s (?:phone )?number\b"
                      r"|\bthe number I have for ([A-Z][a-z]+ [A-Z][a-z]+)")
USES = re.compile(r"\b(write|send|text|message|copy|note|share)\b", re.I)
EDITS = re.compile(r"^\s*(change|update|edit|set|correct|fix)\b", re.I)     # "Change X's number to ...": it gives it
DAY = re.compile(r"\d{4}-\d\d-\d\d")                                        # a date, which PHONE also matches
# A level set all the way up or down (a slider: brightness, volume): "to its maximum", "as dim as it goes"
# (in lower case: "Max" and "Min-jun" are names; and only beside what a level is, not "a maximum of 5 minutes")
MAX = re.compile(r"\b(to (its|the|their) (max|maximum|highest)|(max|maximum|highest|full) (brightness|volume|level)"
                 r"|all the way up|as (bright|loud|high) as)\b")
MIN = re.compile(r"\b(to (its|the|their) (min|minimum|lowest)|(min|minimum|lowest) (brightness|volume|level)"
                 r"|all the way down|as (dim|dark|quiet|low) as)\b")
NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*\b")
# What a new item is to be called, where the goal gives it without quotes: "a note called Bike repair
# with ...", "an alarm with the label Yoga", "I have Plumber visit today at ...", "an event in my
# calendar: Swim lesson, ...". A capitalised phrase, up to the next clause.
_UNTIL = r"(?=\s+(?:with|that|and|holding|saying|which|on|at|for|in|today|tomorrow|between|from)\b|\s*[,.;:!?]|$)"
_PHRASE = r"([A-Z][\w'-]*(?: [\w'-]+)*?)"
TITLE = re.compile(r"\b(?:called|named|titled|labell?ed|with the (?:label|title|name))\s+" + _PHRASE + _UNTIL
                   + r"|^\s*(?:I have|Put|Schedule)\s+" + _PHRASE + _UNTIL
                   + r"|\b(?:event|note)\b[^:\"]*?[:,]\s*" + _PHRASE + r"(?=\s*[,:])")
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
    kind: str        # name, phone, email, time, date, minutes, text, title


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
    extreme: str | None = None                # "max" or "min": a level all the way up or down
    lookup: str | None = None                 # whose number the goal uses without giving it ("send X's number")


def _hour_minute(hour: str, minute: str, half: str) -> tuple[int, int]:
    """24-hour (hour, minute) of a TIME match: '2', '30', 'PM' -> (14, 30)."""
    return (int(hour) % 12 + (12 if half.lower() == "pm" else 0) if half else int(hour)), int(minute)


@lru_cache(maxsize=512)
def read_goal(goal: str) -> GoalFacts:
    """What the goal asks for, read without knowing which task it is."""
    wanted = KEEP.sub("", goal)          # "..., but leave airplane mode on": what not to touch is not asked
    unquoted = QUOTED.sub(" ", wanted)   # a note that says "call mom on Sunday" switches nothing on
    referred = REFERRED.search(goal)
    gives_it = bool(EDITS.match(goal)) or any(not DAY.fullmatch(p.strip()) for p in PHONE.findall(goal))
    lookup = (referred.group(1) or referred.group(2)) if referred and not gives_it and \
        USES.search(goal[:referred.start()] + goal[referred.end():]) else None
    # asks about a state, sets none ("Look up X's number and write it in a note" uses what it looks up)
    question = (bool(QUESTION.match(goal)) or goal.rstrip().endswith("?")) and lookup is None
    facts = GoalFacts(core=goal, question=question,
                      creates=bool(CREATE.search(goal)), deletes=bool(DELETE.search(goal)),
                      words=frozenset(WORD.findall(wanted.casefold())), lookup=lookup,
                      polarity=None if question else True if ON.search(unquoted) else
                      False if OFF.search(unquoted) else None)
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
        h, minute = _hour_minute(*times[0])
        facts.hour_minute = (h, minute)
        facts.values.append(Value(f"{h:02d}:{minute:02d}", "time"))
    span = SPAN.search(rest)
    if span and facts.creates and times:   # "from 2:00 PM to 3:30 PM": a new item's end (a moved alarm's
        groups = span.groups()                 # "to" is its new time); six TIME groups per alternative
        start, end = (groups[0:3], groups[3:6]) if groups[0] is not None else (groups[6:9], groups[9:12])
        if start == times[0]:                  # the span begins at the start time read above
            h, minute = _hour_minute(*end)
            facts.values.append(Value(f"{h:02d}:{minute:02d}", "end"))
    date = DATE.search(rest)
    if date:
        facts.date = (list(calendar.month_name).index(date.group(1)), int(date.group(2)))
        facts.values.append(Value(f"{facts.date[0]:02d}-{facts.date[1]:02d}", "date"))
    minutes = MINUTES.search(rest)
    if minutes:
        facts.minutes = int(minutes.group(1))
    facts.extreme = "max" if MAX.search(rest) else "min" if MIN.search(rest) else None
    facts.values += [Value(q, "text") for q in quoted]
    facts.names = names(QUOTED.sub(" ", goal))
    if not facts.question:
        facts.values += [Value(n, "name") for n in facts.names if len(n.split()) == 2]
    if facts.creates and not question:     # a person's name stays a name (first and last go apart)
        people = {v.text for v in facts.values if v.kind == "name"}
        facts.values[:0] = [Value(t, "title") for t in titles(rest) if t not in people]
    change = CHANGE.search(QUOTED.sub(lambda m: m.group(1), goal))
    if change and not facts.creates:
        facts.new_value = (change.group(2) or change.group(4)).strip().strip("\"'")
    if facts.polarity is not None:    # "turn off Wi-Fi and Bluetooth, but leave airplane mode off"
        named = KEEP.sub("", re.sub(r"\b(turn|switch|set|put|enable|disable|on|off|the|both|please)\b", " ",
                                    goal, flags=re.I))
        facts.targets = [t.strip(" .,") for t in re.split(r",|\band\b", named) if t.strip(" .,")]
    core = QUOTED.sub(" ", goal)
    for value in facts.values + [Value(n, "name") for n in facts.names]:
        core = core.replace(value.text, " ")
    facts.core = re.sub(r"\s+", " ", TIME.sub(" ", core)).strip()
    return facts


def resolved_goal(goal: str, number: str) -> str | None:
    """A goal that uses someone's number (`lookup`), once the number has been read: the same task
    with the number given, said the way the two tasks that take a copied value are said (into a
    note with its title, or texted to the other person); None when it is neither."""
    facts = read_goal(goal)
    if re.search(r"\bnote\b", goal, re.I):
        title = (QUOTED.findall(goal) or titles(QUOTED.sub(" ", goal)) or [facts.lookup])[0]
        return f'Create a note titled "{title}" that says "{number}".'
    recipient = next((n for n in facts.names if n != facts.lookup and n not in facts.lookup), None)
    return f'Send {recipient} a message saying "{number}".' if recipient else None


def number_read_for(who: str, screens: Iterable[tuple[Sequence[str], str]]) -> str | None:
    """The phone number `who`'s own page showed (what a lookup goal copies). `screens` are (labels,
    what the step before tapped): a page of theirs is a screen reached by tapping them that shows
    them and one phone number (a message list shows them beside strangers' numbers)."""
    for labels, reached_by in screens:
        texts = [label.strip() for label in labels]
        numbers = {text for text in texts if PHONE.fullmatch(text) and not DAY.fullmatch(text)}
        if reached_by == who and who in texts and len(numbers) == 1:
            return numbers.pop()
    return None


def titles(text: str) -> list[str]:
    """Unquoted names of new items ("a note called Bike repair with ..."): see TITLE."""
    found = []
    for match in TITLE.finditer(text):
        title = next(g for g in match.groups() if g).strip()
        if title and title.split()[0] not in ("A", "An", "The", "My", "It") and title not in found:
            found.append(title)
    return found


def names(text: str) -> list[str]:
    """Capitalised names ("Ada Lovelace", "Pedro"): runs of capitalised words, less the command
    and domain words that start sentences ("Text Pedro Varga" -> "Pedro Varga"); two words at most."""
    found = []
    for run in NAME.finditer(text):
        words = [w for w in run.group(0).split() if w not in STOP]
        if run.start() == len(text) - len(text.lstrip()) and len(words) == 1 and len(run.group(0).split()) == 1:
            continue           # one capitalised word opening the sentence is its verb ("Append ..."), not a name
        if words:
            found.append(" ".join(words[:2]))
    return found


def entry_values(facts: GoalFacts) -> list[Value]:
    """The values to type into a form. A goal that creates something types all of them; one that
    changes something types only what it becomes ("... to X"); one that deletes or asks types none
    (its values name what to find); otherwise (texting, say) all but the names."""
    if facts.question or (facts.deletes and not facts.creates):
        return []
    if facts.new_value is not None:
        typed = [v for v in facts.values if v.text in facts.new_value or facts.new_value in v.text]
        return typed or [Value(facts.new_value, "text")]
    return [v for v in facts.values if facts.creates or v.kind != "name"]


KIND_WORDS = {"name": "someone", "phone": "a phone number", "email": "an email address", "time": "a time",
              "end": "a time", "date": "a date", "text": "something", "title": "something"}


@lru_cache(maxsize=2048)
def goal_key(goal: str) -> str:
    """The goal with each value replaced by a word for its kind: what retrieval compares."""
    facts = read_goal(goal)
    key = goal
    values = [v for v in facts.values if v.kind not in ("time", "end")] + [Value(n, "name") for n in facts.names]
    if facts.new_value and not TIME.search(facts.new_value) and len(facts.new_value.split()) <= 4 \
            and not any(facts.new_value in v.text for v in values):
        values.append(Value(facts.new_value, "text"))    # what something becomes ("... to Birthday party")
    for value in sorted(values, key=lambda v: -len(v.text)):
        key = key.replace(f'"{value.text}"', KIND_WORDS[value.kind]).replace(value.text, KIND_WORDS[value.kind])
    for hour, minute, half in TIME.findall(key):
        key = key.replace(f"{hour}:{minute}" + (f" {half}" if half else ""), "a time")
    key = DATE.sub("a date", MINUTES.sub("some minute", key))
    return re.sub(r"\s+", " ", key).strip()
