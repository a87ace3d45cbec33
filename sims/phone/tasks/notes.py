"""Notes tasks: create, add to, rename, delete, read; one that copies from Contacts; one missing."""
from __future__ import annotations

import random
from typing import Any

from sims.phone.oracle import Oracle
from sims.phone.phone import PhoneSim
from sims.phone.tasks.base import Task, normalize
from sims.phone.tasks.contacts import ensure, pick

TITLES = ("Trip plan", "Birthday party", "Reading list", "Bike repair", "Quotes", "Podcast ideas", "Moving day")
LINES = ("buy a new chain", "call the venue on Friday", "bring two extra chairs", "renew the library card",
         "check the tyre pressure", "book the van for 9 am", "send the invitations")


def existing_note(phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
    note = rng.choice(sorted(phone.app("notes").notes, key=lambda n: n.id))
    return {"title": note.title, "body": note.body}


def ensure_note(phone: PhoneSim, params: dict[str, Any]) -> Any:
    notes = phone.app("notes")
    return notes.find(params["title"]) or notes.add(params["title"], params.get("body", ""))


def new_title(phone: PhoneSim, rng: random.Random) -> str:
    taken = {n.title for n in phone.app("notes").notes}
    return rng.choice([t for t in TITLES if t not in taken])


class NotesCreate(Task):
    app, difficulty, optimal = "Notes", "medium", 6
    goals = ("Create a note titled \"{title}\" that says \"{body}\".", "Write a new note, {title}: {body}.",
             "Make a note called {title} with the text \"{body}\".")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"title": new_title(phone, rng), "body": rng.choice(LINES)}

    def succeeded(self, phone: PhoneSim) -> bool:
        note = phone.app("notes").find(self.params["title"])
        return note is not None and normalize(note.body) == normalize(self.params["body"])

    def solve(self, o: Oracle) -> None:
        o.open("Notes")
        o.tap("New note")
        o.type(self.params["title"], into="Title")
        o.type(self.params["body"], into="Note")
        o.tap("Save note")
        o.complete()


class NotesAppend(Task):
    app, difficulty, optimal = "Notes", "medium", 5
    goals = ("Add \"{line}\" to the end of my note {title}.", "Append \"{line}\" to the note titled {title}.",
             "In my {title} note, add: {line}.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {**existing_note(phone, rng), "line": rng.choice(LINES)}

    def setup(self, phone: PhoneSim) -> None:
        ensure_note(phone, self.params)

    def succeeded(self, phone: PhoneSim) -> bool:
        note = phone.app("notes").find(self.params["title"])
        if note is None:
            return False
        body = normalize(note.body)
        return body.endswith(normalize(self.params["line"])) and body.startswith(normalize(self.params["body"]))

    def solve(self, o: Oracle) -> None:
        o.open("Notes")
        o.tap(self.params["title"])
        o.type(" " + self.params["line"], into="Note", clear=False)
        o.tap("Save note")
        o.complete()


class NotesRename(Task):
    app, difficulty, optimal = "Notes", "medium", 5
    goals = ("Rename my note {title} to {new}.", "Change the title of the note \"{title}\" to \"{new}\".",
             "The note called {title} should be called {new}.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {**existing_note(phone, rng), "new": new_title(phone, rng)}

    def setup(self, phone: PhoneSim) -> None:
        ensure_note(phone, self.params)

    def succeeded(self, phone: PhoneSim) -> bool:
        notes = phone.app("notes")
        renamed = notes.find(self.params["new"])
        return renamed is not None and notes.find(self.params["title"]) is None and \
            normalize(renamed.body) == normalize(self.params["body"])

    def solve(self, o: Oracle) -> None:
        o.open("Notes")
        o.tap(self.params["title"])
        o.type(self.params["new"], into="Title")
        o.tap("Save note")
        o.complete()


class NotesDelete(Task):
    app, difficulty, optimal = "Notes", "medium", 5
    goals = ("Delete the note {title}.", "Remove my \"{title}\" note.", "Get rid of the note titled {title}.")
    draw = classmethod(lambda cls, phone, rng: existing_note(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure_note(phone, self.params)

    def succeeded(self, phone: PhoneSim) -> bool:
        notes = phone.app("notes")
        return notes.find(self.params["title"]) is None and len(notes.notes) >= 1

    def solve(self, o: Oracle) -> None:
        o.open("Notes")
        o.tap(self.params["title"])
        o.tap("Delete note")
        o.tap("Delete")
        o.complete()


class NotesReadAnswer(Task):
    answer_kind = "text"
    app, difficulty, kind, optimal = "Notes", "easy", "answer", 3
    goals = ("What does my note {title} say?", "Read me the note titled \"{title}\".", "What did I write in {title}?")
    draw = classmethod(lambda cls, phone, rng: existing_note(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure_note(phone, self.params)

    def expected(self, phone: PhoneSim) -> str:
        note = phone.app("notes").find(self.params["title"])
        return note.body if note else ""

    def solve(self, o: Oracle) -> None:
        o.open("Notes")
        o.tap(self.params["title"])
        body = next(e.text for e in o.look().elements if e.resource_id.endswith("/note_body"))
        o.answer(body)


class NotesContactNumber(Task):
    app, apps, difficulty, optimal = "Notes", ("Contacts", "Notes"), "hard", 8
    goals = ("Make a note titled \"{name}\" holding {name}'s phone number.",
             "Copy {name}'s phone number from Contacts into a new note called {name}.",
             "Look up {name}'s number and write it in a note titled {name}.")
    draw = classmethod(lambda cls, phone, rng: pick(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure(phone, self.params["name"], self.params["phone"])

    def succeeded(self, phone: PhoneSim) -> bool:
        note = phone.app("notes").find(self.params["name"])
        contact = phone.app("contacts").find(self.params["name"])
        if note is None or contact is None:
            return False
        number = normalize(contact.phone)   # with or without the country code
        return number in normalize(note.body) or number[-10:] in normalize(note.body)

    def solve(self, o: Oracle) -> None:
        o.open("Contacts")
        o.tap(self.params["name"])
        number = o.look().elements[o.index(rid="phone") + 1].text
        o.open("Notes")
        o.tap("New note")
        o.type(self.params["name"], into="Title")
        o.type(number, into="Note")
        o.tap("Save note")
        o.complete()


class NotesDeleteMissingInfeasible(Task):
    app, difficulty, kind, optimal = "Notes", "medium", "infeasible", 3
    goals = ("Delete my note titled \"{title}\".", "Remove the {title} note.", "Throw away the note called {title}.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"title": f"{rng.choice(['Tax', 'Holiday', 'Poem', 'Chess'])} {rng.choice(['draft', 'ideas', 'log'])}"}

    def setup(self, phone: PhoneSim) -> None:
        notes = phone.app("notes")
        notes.notes = [n for n in notes.notes if n.title != self.params["title"]]

    def solve(self, o: Oracle) -> None:
        o.open("Notes")
        o.type(self.params["title"], into="Search notes")
        o.infeasible()
