"""The critic: does a trajectory deserve to be remembered? It scores goal completion, coherence and
efficiency from what the device showed, never from simulator state, and only trajectories over a
strict threshold are stored.

    OfflineCritic()            evidence on the screens: the values the goal gave were typed and
                               then shown after a commit, the switches it named flipped the right
                               way, the item it deletes went, the answer was read off a screen,
                               a search for what it names found nothing; loops and wasted steps
    ModelCritic(backend)       a judging prompt to a VLM: the goal, the steps with their effects,
                               the first and last screens; it answers three scores as JSON

Both take an `Episode` (the goal, the agent's recorded steps, the last screen's labels, how it
ended) and return a `Verdict`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from agents.echotrail.trajectory import Scores, app_entered_as
from agents.gui.goal import EMAIL, PHONE, TIME, entry_values, number_read_for, read_goal, resolved_goal
from agents.gui.history import level_reading

COMMIT = re.compile(r"\b(save|ok|done|send|set|add|start|create|apply|confirm|delete|remove|update)\b", re.I)
DELETE_WORDS = re.compile(r"\b(delete|remove)\b", re.I)
EMPTY = re.compile(r"\bno \w+ (found|match)|^no \w+$", re.I)
# A question about what someone wrote (a message, a note): its answer is free text, which may itself be
# a question ("Are we still on for tennis?"), and is not the writer's phone number or email address.
SAID = re.compile(r"\bwhat\b[^?]*\b(say|said|says|wrote|write|written|text|texted)\b", re.I)
ASKS_CONTACT = re.compile(r"\b(number|phone|email|address)\b", re.I)


@dataclass
class Episode:
    goal: str
    steps: list[dict[str, Any]]              # agents.gui.agent.Step as dicts
    final_labels: list[str]
    status: str                              # complete, infeasible, answered, step_limit, failed
    answer: str | None = None
    final_fields: dict[str, str] = field(default_factory=dict)
    first_screenshot: Any = None             # for a model critic; the offline one does not look
    last_screenshot: Any = None


@dataclass
class Verdict:
    scores: Scores
    accepted: bool
    reasons: list[str] = field(default_factory=list)


class Critic:
    threshold: float = 0.8
    min_completion: float = 1.0      # every completion check passes: a wrong memory costs more than a lost one

    def judge(self, episode: Episode) -> Verdict:
        if episode.status not in ("complete", "infeasible", "answered"):
            return Verdict(Scores(completion=0, coherence=0, efficiency=0), False, [f"it ended by {episode.status}"])
        scores, reasons = self.score(episode)
        accepted = scores.completion >= self.min_completion and scores.total >= self.threshold
        return Verdict(scores, accepted, reasons)

    def score(self, episode: Episode) -> tuple[Scores, list[str]]:
        raise NotImplementedError


class OfflineCritic(Critic):
    """See the module docstring; each check that fails says why in the verdict's reasons."""

    def __init__(self, threshold: float = 0.8, min_completion: float = 1.0) -> None:
        self.threshold, self.min_completion = threshold, min_completion
        self.apps: set[str] = set()      # every app name seen on a launcher screen so far: the phone's apps

    def score(self, episode: Episode) -> tuple[Scores, list[str]]:
        reasons: list[str] = []
        # rebound, not updated in place: evaluation threads share one critic and iterate the set
        self.apps = self.apps | {label for s in episode.steps if "launcher" in (s.get("package") or "")
                                 for label in s.get("labels", []) if len(label.split()) == 1 and label[:1].isupper()}
        completion = self._completion(episode, reasons)
        return Scores(completion=completion, coherence=_coherence(episode.steps, reasons),
                      efficiency=_efficiency(episode.steps, reasons)), reasons

    def _likeliest_app(self, goal: str) -> str:
        """Of the phone's apps seen so far, the one whose name fits the goal best (the embedder's
        view, as the agent's own): where what an infeasible goal names would be kept."""
        if len(self.apps) < 2:
            return ""
        from agents.embed import shared_embedder

        apps = sorted(self.apps)
        return apps[int(shared_embedder().similarity(goal, apps).argmax())]

    def _completion(self, episode: Episode, reasons: list[str]) -> float:
        facts = read_goal(episode.goal)
        if facts.lookup:     # "send X's number to Y": judged as the goal with the number it read given
            number = number_read_for(facts.lookup, [(s.get("labels", []), before.get("target") or "") for before, s
                                                    in zip([{}, *episode.steps], episode.steps)])
            resolved = resolved_goal(episode.goal, number) if number else None
            if resolved is None:
                reasons.append(f"no page of {facts.lookup} showed their number" if number is None else
                               "the goal uses the number in a way the critic cannot check")
                return 0.0
            episode = replace(episode, goal=resolved)
            facts = read_goal(episode.goal)
        steps = [s for s in episode.steps if s.get("action")]
        seen = [label for s in episode.steps for label in s.get("labels", [])] + episode.final_labels
        if not _app_fits(episode, self.apps, reasons):
            return 0.0
        if episode.status == "answered":
            return _answer_evidence(episode, facts, reasons)
        if episode.status == "infeasible":
            named = facts.names or [v.text for v in facts.values]
            absent = bool(named) and not any(n.casefold() in label.casefold() for n in named for label in seen)
            where = _searched_and_found_nothing(episode, named)
            if where is not None:
                best = self._likeliest_app(episode.goal)
                if best and where and where.casefold() != best.casefold():
                    reasons.append(f"it looked in {where}, but what the goal names would be in {best}")
                    return 0.6
                return 1.0
            reasons.append("declared infeasible without a screen showing that what it names is missing")
            return 0.6 if absent else 0.2
        checks: list[bool] = []

        def check(ok: bool, why: str) -> None:
            checks.append(ok)
            if not ok:
                reasons.append(why)

        if facts.polarity is not None and facts.targets:
            want = "on" if facts.polarity else "off"
            flipped = [m.group(1) for s in steps
                       for m in re.finditer(rf"'([^']+)' is now {want}", s.get("summary", ""))]
            for target in facts.targets:
                check(any(_overlap(target, name) for name in flipped), f"no step shows {target!r} switched {want}")
        typing = [s for s in steps if s["action"].get("action_type") == "input_text"
                  and "failed" not in s.get("summary", "")]
        typed = [s["action"].get("text", "") for s in typing]
        wanted = [v for v in entry_values(facts) if v.kind in ("text", "title", "name", "phone", "email")]
        if not facts.deletes or facts.creates:
            for value in wanted:
                pieces = value.text.split() if value.kind == "name" else [value.text]
                check(all(any(piece.casefold() in t.casefold() for t in typed) for piece in pieces),
                      f"{value.text!r} was never typed")
            for step in typing:
                check(_field_fits(step, wanted), f"{step['action'].get('text')!r} went into a field "
                                                 f"for something else ({step.get('target')!r})")
        fields = [text for s in episode.steps for text in (s.get("fields") or {}).values()]
        typed_or_seen = " ".join(typed + seen + fields).casefold()
        for name in facts.names:
            check(name.casefold() in typed_or_seen, f"{name!r} was neither typed nor seen")
        for hour, minute, half in TIME.findall(episode.goal):
            check(_time_entered(int(hour), int(minute), half, typed, episode.final_labels),
                  f"the time {hour}:{minute} {half} was not entered")
        made = _created_what_existed(episode, facts)
        if made:
            check(False, f"it made a new item although {made!r} was already there")
        if facts.new_value and not facts.creates:
            check(not any(re.match(r"(create|add|new)\b", s.get("target") or "", re.I) for s in steps),
                  "it made a new item where the goal changes one that exists")
        specific = len(checks)            # the checks above hold for any goal; what follows is about this one
        committed = _last_tap_commits(steps)
        if wanted or facts.hour_minute or facts.minutes or (facts.creates and not facts.targets and not facts.extreme):
            check(committed, "the last action before 'complete' did not commit anything")
            missing = [v.text for v in wanted]
            if committed and typed:
                in_form = " ".join((_commit_step(steps).get("fields") or {}).values()).casefold()
                missing = [v.text for v in wanted if v.kind != "name" and v.text.casefold() not in in_form]
                check(not missing, f"{missing[0]!r} was no longer in the form when it was saved" if missing else "")
            shown = [v for v in wanted if v.kind != "name" or v.text.split()[0] in " ".join(episode.final_labels)]
            if wanted and committed:
                check(any(_visible(v.text, episode.final_labels) for v in shown)
                      or _visible_after_commit(steps, wanted) or (typed and not missing and _filtered(episode)),
                      "after the commit, no value the goal gave is on screen")
        if facts.minutes:
            check(any(re.search(rf"(^|\D)0?{facts.minutes}\s*(m|min|minutes?)\b", label) for s in steps[1:]
                      for label in s.get("labels", []) + episode.final_labels if not label.isdigit()),
                  f"no screen shows the {facts.minutes} minutes it was to set")
        if facts.extreme:                 # a level all the way up or down: a reading the episode moved shows it
            check(_moved_to_extreme(episode, facts.extreme),
                  f"no reading the episode changed went to {'100' if facts.extreme == 'max' else '0'}% "
                  "(or within 5 of it)")
        if facts.deletes and not facts.creates:
            subject = facts.names or [v.text for v in facts.values]
            check(_seen_before_delete(episode, subject), "what it deletes was never on screen before the delete")
            check(any(DELETE_WORDS.search(s.get("target", "")) for s in steps), "nothing labelled Delete or Remove "
                                                                                 "was tapped")
            check(not any(_visible(n, episode.final_labels) for n in subject),
                  "what it deletes is still on the last screen")
        if committed and re.search(r"\b(save|done|ok|apply)\b", _commit_step(steps).get("target", ""), re.I):
            check(_changed_before_commit(steps), "it saved a form it had not changed")
        if len(checks) == specific:     # a bare command ("start the stopwatch"): the last tap must match its words
            check(_last_tap_names_goal(steps, episode.goal), "the last tap does not do what the goal says")
        if not facts.targets:     # a switch goal is judged by the flips above
            check(_subject_shown(episode, facts), "the last screen shows nothing the goal is about")
        return round(sum(checks) / len(checks), 4)


FIELD_KINDS = {"name": ("name", "recipient", "to", "contact", "search", "title", "label"),
               "phone": ("phone", "number", "recipient", "to", "search"),
               "email": ("email", "mail"),
               "text": ("title", "text", "note", "message", "label", "subject", "body", "name", "search", "content"),
               "title": ("title", "label", "name", "subject", "event")}


def _moved_to_extreme(episode: Episode, extreme: str) -> bool:
    """A percentage on the last screen at the extreme that the last tap on that screen brought: it was
    not on the screen before it (the battery's '95%' in the status bar is on every screen)."""
    taps = [s for s in episode.steps if (s.get("action") or {}).get("action_type") == "click"]
    before = set(taps[-1].get("labels", [])) if taps else set()
    readings = [level_reading(label) for label in episode.final_labels if label not in before]
    return any(v is not None and (v >= 95 if extreme == "max" else v <= 5) for v in readings)


def _created_what_existed(episode: Episode, facts) -> str:
    """The episode tapped Create/Add/New although the goal's item exists: its name was on a screen
    before, or the goal speaks of it as existing ("Ada Lovelace's contact"). Returns the name, or ''."""
    possessive = {m.group(1) for m in re.finditer(r"\b([A-Z][a-z]+ [A-Z][a-z]+)'s\b", episode.goal)}
    for i, step in enumerate(episode.steps):
        if re.match(r"(create|add|new)\b", step.get("target") or "", re.I):
            before = " ".join(label for s in episode.steps[:i + 1] for label in s.get("labels", [])).casefold()
            for name in facts.names:
                if len(name.split()) > 1 and (name.casefold() in before or name in possessive):
                    return name
            return ""
    return ""


def _changed_before_commit(steps: list[dict[str, Any]]) -> bool:
    """Something was typed or switched since the form opened (the last screen change before the commit)."""
    commit = max(i for i, s in enumerate(steps) if s["action"].get("action_type") not in ("status", "answer", "wait"))
    for step in reversed(steps[:commit]):
        if step["action"].get("action_type") == "input_text" or " is now " in step.get("summary", ""):
            return True
        if "screen changed" in step.get("summary", "") or "app changed" in step.get("summary", ""):
            return False
    return False


def _commit_step(steps: list[dict[str, Any]]) -> dict[str, Any]:
    for step in reversed(steps):
        if step["action"].get("action_type") not in ("status", "answer", "wait"):
            return step
    return {}


def _time_entered(hour: int, minute: int, half: str, typed: list[str], final: list[str]) -> bool:
    """The goal's time was typed (13:30, or 1 and 30) or shows on the last screen (1:30 PM)."""
    h24 = hour % 12 + (12 if half.lower() == "pm" else 0) if half else hour
    forms = {f"{h24:02d}:{minute:02d}", f"{h24}:{minute:02d}"}
    if any(t in forms for t in typed) or (str(hour) in typed and f"{minute:02d}" in typed):
        return True
    return any(f"{hour}:{minute:02d}" in label for label in final)


def _seen_before_delete(episode: Episode, subject: list[str]) -> bool:
    for i, step in enumerate(episode.steps):
        if DELETE_WORDS.search(step.get("target") or ""):
            before = " ".join(label for s in episode.steps[:i + 1] for label in s.get("labels", [])).casefold()
            return all(n.casefold() in before for n in subject) if subject else True
    return False


def _field_fits(step: dict[str, Any], wanted) -> bool:
    """A goal value typed into a field whose hint names its kind (a title not into 'First name')."""
    text = (step["action"].get("text") or "").casefold()
    field = (step.get("target") or "").casefold()
    for value in wanted:
        if text and (text == value.text.casefold() or text in value.text.casefold().split()):
            return any(word in field for word in FIELD_KINDS[value.kind]) or not field
    return True


def _app_fits(episode: Episode, apps: set[str], reasons: list[str]) -> bool:
    """Where the goal names an app by a word of its name ('a note' and Notes, 'a message' and
    Messages), the episode used that app."""
    words = {w.rstrip("s") for w in re.findall(r"[a-z]+", episode.goal.casefold()) if len(w) > 2}
    named = {app for app in apps if app.casefold().rstrip("s") in words}
    if not named:
        return True
    used = {(s.get("action") or {}).get("app_name", "") for s in episode.steps} | \
        {(s.get("package") or "").rsplit(".", 1)[-1] for s in episode.steps}
    used = {u.casefold().rstrip("s") for u in used if u}
    if any(app.casefold().rstrip("s") in used for app in named):
        return True
    reasons.append(f"the goal names {', '.join(sorted(named))} but the episode never used it")
    return False


def _overlap(a: str, b: str) -> bool:
    """Two names for one thing: the words of one hold the other's ('dark theme', "phone's dark theme")."""
    x, y = set(re.findall(r"[a-z0-9]+", a.casefold())), set(re.findall(r"[a-z0-9]+", b.casefold()))
    return bool(x) and bool(y) and (x <= y or y <= x)


def _subject_shown(episode: Episode, facts) -> bool:
    """The last screen shows a word of what the goal is about (its nouns, its values): a saved
    contact's name, the Notes list's title, the Timer tab."""
    words = {w.rstrip("s") for w in re.findall(r"[a-z]+", facts.core.casefold()) if len(w) > 3}
    values = [v.text for v in facts.values] + facts.names
    text = " ".join(episode.final_labels).casefold()
    found = {w.rstrip("s") for w in re.findall(r"[a-z]+", text)}
    return bool(words & found) or any(v.casefold() in text for v in values if v)


def _searched_and_found_nothing(episode: Episode, named: list[str]) -> str | None:
    """A search for what the goal names, and the next screen saying nothing matched: the name of
    the app it searched in ('' where it was not opened by name), or None without such a search."""
    steps = episode.steps
    for i, step in enumerate(steps):
        action = step.get("action") or {}
        if action.get("action_type") != "input_text" or "search" not in step.get("summary", "").casefold():
            continue
        if not any(n.casefold() in (action.get("text") or "").casefold() for n in named):
            continue
        after = steps[i + 1].get("labels", []) if i + 1 < len(steps) else episode.final_labels
        if any(EMPTY.search(label) for label in after):
            return app_entered_as(steps[:i + 1], step.get("package") or "")
    return None


def _answer_evidence(episode: Episode, facts, reasons: list[str]) -> float:
    """The answer was read off a screen that also showed what the question is about."""
    answer = (episode.answer or "").strip()
    if not answer:
        reasons.append("an empty answer")
        return 0.0
    asks_said = bool(SAID.search(facts.core)) and not ASKS_CONTACT.search(episode.goal)
    someone = [n for n in facts.names if len(n.split()) == 2] and not re.search(r"\bnote\b", episode.goal, re.I)
    if answer.endswith("?") and not asks_said:
        reasons.append(f"the answer {answer!r} is itself a question")
        return 0.2
    if asks_said and someone and (PHONE.fullmatch(answer) or EMAIL.fullmatch(answer)):
        reasons.append(f"the answer {answer!r} is a phone number or an email address; the question asks "
                       "what was written")
        return 0.2
    if re.search(r"\bwhat time\b|\bwhen\b", episode.goal, re.I) and len(TIME.findall(answer)) > 1:
        reasons.append(f"the answer {answer!r} gives several times where the question asks for one")
        return 0.4
    screens = [s.get("labels", []) for s in episode.steps] + [episode.final_labels]
    if facts.names and len(screens) > 2 and all(answer in labels for labels in screens):
        # about something named (an event, a person), an answer on every screen is the status bar's
        reasons.append(f"the answer {answer!r} is on every screen it saw (the status bar), not read off a page")
        return 0.2
    holding = [labels for labels in screens if any(_says(label, answer) for label in labels)]
    if re.fullmatch(r"\d{1,3}", answer) and re.search(r"\bhow many\b|^\s*count\b", facts.core, re.I):
        holding = screens[-2:]          # a count is counted off the list it answered on, not read anywhere
    elif not holding:
        reasons.append(f"the answer {answer!r} is on no screen it saw")
        return 0.2
    about = {w.rstrip("s") for w in re.findall(r"[a-z]+", facts.core.casefold()) if len(w) > 3} - QUESTION_WORDS
    named = [n.casefold() for n in facts.names] + [v.text.casefold() for v in facts.values if v.kind == "text"]
    for labels in holding:
        text = " ".join(label for label in labels if answer.casefold() not in label.casefold()).casefold()
        shown = {w.rstrip("s") for w in re.findall(r"[a-z]+", text)}
        if named and all(n in text for n in named):
            return 1.0
        if not named and (not about or about & shown):
            return 1.0
    reasons.append("the answer was read off a screen that does not show what the question is about")
    return 0.4


def _says(label: str, answer: str) -> bool:
    """The label shows the answer: one holds the other, or they give the same numbers ('83%' and
    '83 percent')."""
    a, b = label.casefold(), answer.casefold()
    if a in b and len(a) >= 2 or b in a:
        return True
    numbers = re.findall(r"\d+", b)
    return bool(numbers) and numbers == re.findall(r"\d+", a)


QUESTION_WORDS = {"what", "which", "when", "where", "many", "much", "tell", "read", "look", "check", "does",
                  "have", "there", "phone", "time", "number", "date", "name", "thing", "last", "first", "this"}


def _last_tap_commits(steps: list[dict[str, Any]]) -> bool:
    for step in reversed(steps):
        kind = step["action"].get("action_type")
        if kind in ("status", "answer", "wait"):
            continue
        summary = step.get("summary", "")
        closed = any(sign in summary for sign in ("screen changed", "app changed", "gone from screen"))
        return kind in ("click", "keyboard_enter") and bool(COMMIT.search(step.get("target", "") or "enter")) \
            and closed
    return False


def _last_tap_names_goal(steps: list[dict[str, Any]], goal: str) -> bool:
    words = {w.rstrip("s") for w in re.findall(r"[a-z]+", goal.casefold())}
    for step in reversed(steps):
        if step["action"].get("action_type") in ("status", "answer", "wait"):
            continue
        target = {w.rstrip("s") for w in re.findall(r"[a-z]+", (step.get("target") or "").casefold())}
        return bool(target & words)
    return False


def _visible(value: str, labels: list[str]) -> bool:
    folded = value.casefold()
    return any(folded in label.casefold() for label in labels)


def _filtered(episode: Episode) -> bool:
    """The last screen is a list a search narrows (its search field holds text): a saved item that
    no longer matches the search is rightly not shown, so its absence says nothing."""
    last = episode.steps[-1] if episode.steps else {}
    return any("search" in name.casefold() and text for name, text in (last.get("fields") or {}).items())


def _visible_after_commit(steps: list[dict[str, Any]], wanted) -> bool:
    """The commit's effect summary names a value (new on screen: 'Ada Lovelace')."""
    for step in reversed(steps):
        if step["action"].get("action_type") in ("status", "answer", "wait"):
            continue
        summary = step.get("summary", "").casefold()
        return any(v.text.casefold() in summary for v in wanted)
    return False


def _coherence(steps: list[dict[str, Any]], reasons: list[str]) -> float:
    if not steps:
        return 0.0
    bad = sum(1 for s in steps if s.get("error") or s.get("loop_broken") or s.get("reflection"))
    if bad:
        reasons.append(f"{bad} of {len(steps)} steps failed, did nothing or looped")
    return round(max(0.0, 1 - bad / len(steps)), 4)


def _efficiency(steps: list[dict[str, Any]], reasons: list[str]) -> float:
    """Wasted steps: failures, no-effect steps and returns to a screen already left (A -> B -> A)."""
    if not steps:
        return 0.0
    screens = [f"{s.get('package')}/{s.get('activity')}" for s in steps]
    backtracks = sum(1 for i in range(2, len(screens)) if screens[i] == screens[i - 2] != screens[i - 1])
    wasted = backtracks + sum(1 for s in steps if s.get("error") or s.get("reflection"))
    if wasted:
        reasons.append(f"{wasted} wasted step{'s' if wasted > 1 else ''} (failed, no effect, or back where it was)")
    return round(max(0.0, 1 - wasted / max(4, len(steps))), 4)


class ModelCritic(Critic):
    """A VLM as the judge (any agents.gui backend). Its reply must hold a JSON object with
    completion, coherence and efficiency in [0, 1]; anything else scores zero (never stored)."""

    def __init__(self, backend, threshold: float = 0.8, min_completion: float = 0.8) -> None:
        self.backend, self.threshold, self.min_completion = backend, threshold, min_completion

    def score(self, episode: Episode) -> tuple[Scores, list[str]]:
        from agents.gui.backends import BackendError
        from agents.gui.parse import json_objects
        from agents.gui.prompts import Prompt, template

        lines = [f"{i}. {s['action']} -> {s.get('summary', '')}" for i, s in enumerate(episode.steps, 1)
                 if s.get("action")]
        text = template("judge").substitute(goal=episode.goal, steps="\n".join(lines) or "(none)",
                                            outcome=episode.status + (f": {episode.answer}" if episode.answer else ""),
                                            final="\n".join(episode.final_labels[:60]))
        images = [i for i in (episode.first_screenshot, episode.last_screenshot) if i is not None]
        try:
            reply = self.backend.reply(None, Prompt(template("judge_system").template, text, images))
        except BackendError as exc:
            return Scores(completion=0, coherence=0, efficiency=0), [f"the judge failed: {exc}"]
        for found in json_objects(reply.text):
            if isinstance(found, dict):
                try:
                    scores = Scores.model_validate({k: found.get(k) for k in ("completion", "coherence", "efficiency")})
                except ValueError:
                    continue
                return scores, [str(found.get("reason", ""))[:300]]
        zero = Scores(completion=0, coherence=0, efficiency=0)
        return zero, [f"the judge's reply holds no scores: {reply.text[:120]!r}"]
