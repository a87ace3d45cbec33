"""Notes: a searchable list, an editor that saves on Save or on the way out, delete with confirmation."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from control.phone.observation import Bounds
from sims.phone.apps import App
from sims.phone.ui import Dialog, Field, Route, Screen, Ui, View

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim

SEED_NOTES = (("Groceries", "milk, eggs, spinach, coffee beans, rice"),
              ("Packing list", "passport, charger, sunscreen, hiking boots"),
              ("Book ideas", "a lighthouse keeper who collects lost letters"),
              ("Wifi password", "the guest network password is on the fridge"),
              ("Gift ideas", "a cookbook for Dad, headphones for Sam"),
              ("Workout", "Monday: run 5k; Wednesday: swim; Friday: yoga"),
              ("Meeting notes", "budget review moved to next quarter"),
              ("Recipes", "lemon pasta: zest, butter, parmesan, pepper"),
              ("Movies to watch", "Arrival, Paddington 2, Spirited Away"),
              ("Garden", "plant tulip bulbs before the first frost"))


@dataclass
class Note:
    id: int
    title: str
    body: str
    modified: datetime


class Notes(App):
    package = "com.podium.notes"
    label = "Notes"

    def __init__(self, phone: PhoneSim, rng: random.Random) -> None:
        super().__init__(phone, rng)
        chosen = rng.sample(SEED_NOTES, 7)
        start = phone.start_time
        self.notes = [Note(i + 1, title, body, start - timedelta(days=i + 1, hours=rng.randrange(12)))
                      for i, (title, body) in enumerate(chosen)]
        self._next_id = len(self.notes) + 1
        self.query = ""

    # -- state -----------------------------------------------------------------------------------
    def find(self, title: str) -> Note | None:
        wanted = title.strip().casefold()
        return next((n for n in self.notes if n.title.strip().casefold() == wanted), None)

    def by_id(self, note_id: int) -> Note | None:
        return next((n for n in self.notes if n.id == note_id), None)

    def add(self, title: str, body: str) -> Note:
        note = Note(self._next_id, title, body, self.phone.now)
        self._next_id += 1
        self.notes.append(note)
        return note

    def ordered(self) -> list[Note]:
        return sorted(self.notes, key=lambda n: (n.modified, n.id), reverse=True)

    # -- screens ---------------------------------------------------------------------------------
    def screen_main(self, route: Route, ui: Ui) -> Screen:
        search = Field("notes:search", lambda: self.query, self._search)
        box = ui.field(Bounds(ui.dp(48), ui.top + ui.dp(24), ui.width - ui.dp(48), ui.top + ui.dp(150)), search,
                       hint="Search notes", rid="search_bar")
        q = self.query.casefold()
        shown = [n for n in self.ordered() if q in n.title.casefold() or q in n.body.casefold()]
        area = Bounds(0, ui.top + ui.dp(180), ui.width, ui.bottom)

        def row(note: Note, b: Bounds) -> View | None:
            return ui.row(b, note.title or "(untitled)", note.body, key=f"note:{note.id}", rid="note_row",
                          on_tap=lambda: self.open("editor", id=note.id))
        listing = ui.list("notes_list", shown, ui.dp(200), row, area,
                          empty="No notes match" if self.query else "No notes yet")
        return Screen("Notes", [box, listing], fab=ui.fab("New note", self._new), activity="MainActivity")

    def _search(self, value: str) -> None:
        self.query = value
        self.route.state["scroll:notes_list"] = 0

    def _new(self) -> None:
        self.open("editor")
        self.phone.focus = "notes:title"

    def screen_editor(self, route: Route, ui: Ui) -> Screen:
        note = self.by_id(route.args["id"]) if "id" in route.args else None
        draft = route.state.setdefault("draft", {"title": note.title if note else "",
                                                 "body": note.body if note else ""})
        title = Field("notes:title", lambda: draft["title"], lambda v: draft.__setitem__("title", v),
                      on_enter=lambda: setattr(self.phone, "focus", "notes:body"))
        body = Field("notes:body", lambda: draft["body"], lambda v: draft.__setitem__("body", v), max_length=2000,
                     on_enter=lambda: draft.__setitem__("body", draft["body"] + "\n"))
        col = ui.column(48)
        col.skip(ui.dp(20))
        views = [ui.field(col.take(ui.dp(150)), title, hint="Title", rid="note_title")]
        col.skip(ui.dp(20))
        views.append(ui.field(col.take(min(ui.dp(700), max(ui.dp(150), col.bottom - col.y - ui.dp(40)))), body,
                              hint="Note", rid="note_body"))
        actions = [ui.icon_button(ui.action_slot(0), "check", "Save note", lambda: self._save(route), rid="save")]
        if note is not None:
            actions.append(ui.icon_button(ui.action_slot(1), "delete", "Delete note",
                                          lambda: self._confirm_delete(note), rid="delete"))
        return Screen("Edit note" if note else "New note", views, actions=actions, up=True, activity="EditActivity")

    def _save(self, route: Route) -> None:
        if self._store(route):
            self.toast("Note saved")
        self.close()

    def leave(self, route: Route) -> None:
        """Leaving the editor keeps what was written, as note apps do."""
        if route.name == "editor":
            self._store(route)

    def _store(self, route: Route) -> bool:
        draft = route.state.get("draft")
        if draft is None or route.state.get("stored"):
            return False
        route.state["stored"] = True
        title, body = draft["title"].strip(), draft["body"].rstrip()
        note = self.by_id(route.args["id"]) if "id" in route.args else None
        if note is None:
            if not (title or body):
                return False
            self.add(title, body)
            return True
        if (note.title, note.body) != (title, body):
            note.title, note.body, note.modified = title, body, self.phone.now
        return True

    def _confirm_delete(self, note: Note) -> None:
        def delete() -> None:
            self.notes = [n for n in self.notes if n.id != note.id]
            self.route.state["stored"] = True  # nothing to save on the way out
            self.close()
            self.toast("Note deleted")
        self.dialog(Dialog("Delete this note?", message=note.title, buttons=(("Cancel", None), ("Delete", delete))))
