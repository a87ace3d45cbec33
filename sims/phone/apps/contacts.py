"""Contacts: a list longer than a screen, search, a contact's page, add, edit and delete."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from control.phone.observation import Bounds
from sims.phone.apps import App
from sims.phone.ui import Dialog, Field, Route, Screen, Ui, View

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim

FIRST = ("Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kavya",
         "Liam", "Maya", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera",
         "Wes", "Ximena", "Yusuf", "Zoe", "Amara", "Ben", "Carmen", "Diego")
LAST = ("Anders", "Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
        "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka",
        "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhou")
DOMAINS = ("gmail.com", "outlook.com", "proton.me", "example.org")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{2,20}$")


@dataclass
class Contact:
    id: int
    first: str
    last: str = ""
    phone: str = ""
    email: str = ""

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}".strip()


def digits(number: str) -> str:
    """A phone number reduced to what identifies it: its digits (and a leading +)."""
    return re.sub(r"[^0-9+]", "", number)


def random_phone(rng: random.Random) -> str:
    return f"+1 {rng.randrange(201, 989)}-{rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}"


class Contacts(App):
    package = "com.google.android.contacts"
    label = "Contacts"

    def __init__(self, phone: PhoneSim, rng: random.Random) -> None:
        super().__init__(phone, rng)
        firsts = rng.sample(FIRST, 18)
        self.contacts = [Contact(i + 1, first, rng.choice(LAST), random_phone(rng),
                                 f"{first.lower()}.{i}@{rng.choice(DOMAINS)}" if rng.random() < 0.6 else "")
                         for i, first in enumerate(firsts)]
        self._next_id = len(self.contacts) + 1
        self.query = ""

    # -- state -----------------------------------------------------------------------------------
    def find(self, name: str) -> Contact | None:
        """The contact whose full name (or first name) is `name`, case-insensitive."""
        wanted = name.strip().casefold()
        for contact in self.contacts:
            if wanted in (contact.name.casefold(), contact.first.casefold()):
                return contact
        return None

    def by_number(self, number: str) -> Contact | None:
        wanted = digits(number)
        return next((c for c in self.contacts if wanted and digits(c.phone) == wanted), None)

    def by_id(self, contact_id: int) -> Contact | None:
        return next((c for c in self.contacts if c.id == contact_id), None)

    def add(self, first: str, last: str = "", phone: str = "", email: str = "") -> Contact:
        contact = Contact(self._next_id, first, last, phone, email)
        self._next_id += 1
        self.contacts.append(contact)
        return contact

    def sorted(self) -> list[Contact]:
        return sorted(self.contacts, key=lambda c: (c.name.casefold(), c.id))

    # -- screens ---------------------------------------------------------------------------------
    def screen_main(self, route: Route, ui: Ui) -> Screen:
        search = Field("contacts:search", lambda: self.query, self._search)
        box = ui.field(Bounds(ui.dp(48), ui.top + ui.dp(24), ui.width - ui.dp(48), ui.top + ui.dp(150)), search,
                       hint="Search contacts", rid="search_view")
        shown = [c for c in self.sorted() if self.query.casefold() in c.name.casefold()]
        area = Bounds(0, ui.top + ui.dp(180), ui.width, ui.bottom)

        def row(contact: Contact, b: Bounds) -> View | None:
            return ui.row(b, contact.name, on_tap=lambda: self.open("detail", id=contact.id),
                          key=f"contact:{contact.id}", avatar=contact.first, rid="contact_row")
        listing = ui.list("contacts_list", shown, ui.dp(180), row, area,
                          empty="No contacts found" if self.query else "No contacts")
        return Screen("Contacts", [box, listing], fab=ui.fab("Create contact", lambda: self.open("edit")),
                      activity="PeopleActivity")

    def _search(self, value: str) -> None:
        self.query = value
        self.route.state["scroll:contacts_list"] = 0

    def screen_detail(self, route: Route, ui: Ui) -> Screen:
        contact = self.by_id(route.args["id"])
        if contact is None:  # deleted meanwhile
            return self.gone(ui, "contact", "QuickContactActivity")
        col = ui.column(48)
        col.skip(ui.dp(40))
        views = [ui.text(col.take(ui.dp(150)), contact.name, size="headline", rid="large_title")]
        col.skip(ui.dp(30))
        if contact.phone:
            views.append(ui.row(col.take(ui.dp(190)), contact.phone, "Mobile", key="phone", rid="phone",
                                on_tap=lambda: self.toast(f"Calling {contact.phone}...")))
        if contact.email:
            views.append(ui.row(col.take(ui.dp(190)), contact.email, "Email", key="email", rid="email"))
        col.skip(ui.dp(40))
        half = (ui.width - ui.dp(144)) // 2
        buttons = col.take(ui.dp(140))
        if buttons is not None and contact.phone:
            views.append(ui.button(Bounds(buttons.left, buttons.top, buttons.left + half, buttons.bottom), "Message",
                                   lambda: self._message(contact), rid="message_button"))
        actions = [ui.icon_button(ui.action_slot(1), "edit", "Edit contact",
                                  lambda: self.open("edit", id=contact.id)),
                   ui.icon_button(ui.action_slot(0), "delete", "Delete contact",
                                  lambda: self._confirm_delete(contact))]
        return Screen("", views, actions=actions, up=True, activity="QuickContactActivity")

    def _message(self, contact: Contact) -> None:
        messages = self.phone.app("messages")
        self.phone.launch(messages.package)
        messages.open("thread", number=contact.phone)

    def _confirm_delete(self, contact: Contact) -> None:
        def delete() -> None:
            self.contacts = [c for c in self.contacts if c.id != contact.id]
            self.close()
            self.toast(f"{contact.name} deleted")
        self.dialog(Dialog(f"Delete {contact.name}?", message="This contact will be removed.",
                           buttons=(("Cancel", None), ("Delete", delete))))

    def screen_edit(self, route: Route, ui: Ui) -> Screen:
        existing = self.by_id(route.args["id"]) if "id" in route.args else None
        draft = route.state.setdefault("draft", {
            "first": existing.first if existing else "", "last": existing.last if existing else "",
            "phone": existing.phone if existing else "", "email": existing.email if existing else ""})
        col = ui.column(48)
        col.skip(ui.dp(30))
        fields = (("first", "First name"), ("last", "Last name"), ("phone", "Phone"), ("email", "Email"))
        views: list[View | None] = []
        for i, (name, hint) in enumerate(fields):
            following = fields[i + 1][0] if i + 1 < len(fields) else None
            binding = Field(f"contacts:edit:{name}", lambda n=name: draft[n],
                            lambda v, n=name: draft.__setitem__(n, v),
                            on_enter=(lambda n=following: self._focus(f"contacts:edit:{n}")) if following else None)
            views.append(ui.field(col.take(ui.dp(150)), binding, hint=hint, rid=f"{name}_name"
                                  if name in ("first", "last") else name))
            col.skip(ui.dp(30))
        save = ui.button(ui.action_slot(0), "Save", lambda: self._save(existing, draft), rid="save",
                         style="text")
        return Screen("Edit contact" if existing else "Create contact", views, actions=[save], up=True,
                      activity="ContactEditorActivity")

    def _focus(self, key: str) -> None:
        self.phone.focus = key

    def _save(self, existing: Contact | None, draft: dict[str, str]) -> None:
        first, last = draft["first"].strip(), draft["last"].strip()
        phone, email = draft["phone"].strip(), draft["email"].strip()
        if not (first or last):
            self.toast("Add a name first")
            return
        if phone and not PHONE.match(phone):
            self.toast("That is not a phone number")
            return
        if not first:
            first, last = last, ""
        if existing is not None:
            existing.first, existing.last, existing.phone, existing.email = first, last, phone, email
            self.close()
        else:
            contact = self.add(first, last, phone, email)
            self.close()
            self.open("detail", id=contact.id)
        self.toast("Contact saved")
