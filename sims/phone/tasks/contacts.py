"""Contacts tasks: add, delete, edit, read; and a contact that is not there."""
from __future__ import annotations

import random
from typing import Any

from sims.phone.apps.contacts import FIRST, LAST, PHONE, digits, random_phone
from sims.phone.oracle import Oracle
from sims.phone.phone import PhoneSim
from sims.phone.tasks.base import Task, require


def pick(phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
    """An existing contact's name (and number), drawn from the seed."""
    contact = rng.choice(sorted(phone.app("contacts").contacts, key=lambda c: c.id))
    return {"name": contact.name, "phone": contact.phone}


def stranger(phone: PhoneSim, rng: random.Random) -> str:
    """A full name no contact has."""
    taken = {c.name for c in phone.app("contacts").contacts}
    return next(name for name in (f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(500)) if name not in taken)


def ensure(phone: PhoneSim, name: str, number: str = "") -> Any:
    """The contact called `name`, created if a task file names one the seed did not make."""
    contacts = phone.app("contacts")
    contact = contacts.find(name)
    if contact is None:
        first, _, last = name.partition(" ")
        contact = contacts.add(first, last, number or "+1 555-0100")
    return contact


def open_contact(o: Oracle, name: str) -> None:
    o.open("Contacts")
    o.tap(name)


class ContactsAddContact(Task):
    app, difficulty, optimal = "Contacts", "medium", 7
    goals = ("Add a contact named {first} {last} with the phone number {phone}.",
             "Create a new contact: {first} {last}, {phone}.",
             "Save {first} {last}'s number {phone} in my contacts.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        first, _, last = stranger(phone, rng).partition(" ")
        return {"first": first, "last": last, "phone": random_phone(rng)}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(bool(inputs["first"].strip()), "a contact needs a first name")
        require(bool(PHONE.match(inputs["phone"])), f"{inputs['phone']!r} is not a phone number")
        return inputs

    def setup(self, phone: PhoneSim) -> None:
        contacts = phone.app("contacts")
        contacts.contacts = [c for c in contacts.contacts if c.name != f"{self.params['first']} {self.params['last']}"]

    def succeeded(self, phone: PhoneSim) -> bool:
        c = phone.app("contacts").find(f"{self.params['first']} {self.params['last']}")
        return c is not None and digits(c.phone) == digits(self.params["phone"])

    def solve(self, o: Oracle) -> None:
        o.open("Contacts")
        o.tap("Create contact")
        o.type(self.params["first"], into="First name")
        o.type(self.params["last"], into="Last name")
        o.type(self.params["phone"], into="Phone")
        o.tap("Save")
        o.complete()


class ContactsDeleteContact(Task):
    app, difficulty, optimal = "Contacts", "medium", 5
    goals = ("Delete the contact {name}.", "Remove {name} from my contacts.",
             "I no longer need {name}'s contact: delete it.")
    draw = classmethod(lambda cls, phone, rng: pick(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure(phone, self.params["name"], self.params["phone"])

    def succeeded(self, phone: PhoneSim) -> bool:
        contacts = phone.app("contacts")
        return contacts.find(self.params["name"]) is None and len(contacts.contacts) >= 1

    def solve(self, o: Oracle) -> None:
        open_contact(o, self.params["name"])
        o.tap("Delete contact")
        o.tap("Delete")
        o.complete()


class ContactsEditPhone(Task):
    app, difficulty, optimal = "Contacts", "hard", 6
    goals = ("Change {name}'s phone number to {new}.", "{name} has a new number, {new}: update the contact.",
             "Update the phone number of {name} to {new}.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {**pick(phone, rng), "new": random_phone(rng)}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(bool(PHONE.match(inputs["new"])), f"{inputs['new']!r} is not a phone number")
        return inputs

    def setup(self, phone: PhoneSim) -> None:
        ensure(phone, self.params["name"], self.params["phone"])

    def succeeded(self, phone: PhoneSim) -> bool:
        c = phone.app("contacts").find(self.params["name"])
        return c is not None and digits(c.phone) == digits(self.params["new"])

    def solve(self, o: Oracle) -> None:
        open_contact(o, self.params["name"])
        o.tap("Edit contact")
        o.type(self.params["new"], into="Phone")
        o.tap("Save")
        o.complete()


class ContactsAddEmail(Task):
    app, difficulty, optimal = "Contacts", "medium", 6
    goals = ("Add the email {email} to {name}'s contact.", "Save {email} as {name}'s email address.",
             "{name}'s email is {email}; put it in their contact.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        found = pick(phone, rng)
        handle = found["name"].split()[0].lower()
        return {**found, "email": f"{handle}.{rng.randrange(10, 99)}@example.com"}

    def setup(self, phone: PhoneSim) -> None:
        ensure(phone, self.params["name"], self.params["phone"]).email = ""

    def succeeded(self, phone: PhoneSim) -> bool:
        c = phone.app("contacts").find(self.params["name"])
        return c is not None and c.email.strip().casefold() == self.params["email"].casefold()

    def solve(self, o: Oracle) -> None:
        open_contact(o, self.params["name"])
        o.tap("Edit contact")
        o.type(self.params["email"], into="Email")
        o.tap("Save")
        o.complete()


class ContactsPhoneAnswer(Task):
    app, difficulty, kind, optimal, answer_kind = "Contacts", "easy", "answer", 3, "phone"
    goals = ("What is {name}'s phone number?", "Look up {name}'s number for me.", "Which number do I have for {name}?")
    draw = classmethod(lambda cls, phone, rng: pick(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure(phone, self.params["name"], self.params["phone"])

    def expected(self, phone: PhoneSim) -> str:
        c = phone.app("contacts").find(self.params["name"])
        return c.phone if c else ""

    def solve(self, o: Oracle) -> None:
        open_contact(o, self.params["name"])
        row = o.index(rid="phone")           # the number is the row's first line
        o.answer(o.look().elements[row + 1].text)


class ContactsCountLastName(Task):
    app, difficulty, kind, optimal, answer_kind = "Contacts", "hard", "answer", 2, "count"
    goals = ("How many of my contacts have the last name {last}?", "Count the contacts named {last}.",
             "How many people called {last} are in my contacts?")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"last": rng.choice(sorted({c.last for c in phone.app("contacts").contacts if c.last}))}

    def setup(self, phone: PhoneSim) -> None:
        contacts = phone.app("contacts")
        if sum(c.last == self.params["last"] for c in contacts.contacts) < 2:  # make counting matter
            contacts.add(stranger(phone, random.Random(self.seed)).split()[0], self.params["last"], "+1 555-0199")

    def expected(self, phone: PhoneSim) -> int:
        return sum(c.last == self.params["last"] for c in phone.app("contacts").contacts)

    def solve(self, o: Oracle) -> None:
        o.open("Contacts")
        names = o.all_texts("title")
        o.answer(str(sum(name.split()[-1] == self.params["last"] for name in names if name != "Contacts")))


class ContactsDeleteMissingInfeasible(Task):
    app, difficulty, kind, optimal = "Contacts", "medium", "infeasible", 3
    goals = ("Delete the contact {name}.", "Remove {name} from my contacts.", "Call up {name}'s contact and delete it.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"name": stranger(phone, rng)}

    def solve(self, o: Oracle) -> None:
        o.open("Contacts")
        o.type(self.params["name"], into="Search contacts")
        if any(e.text == self.params["name"] and not e.editable for e in o.look().elements):
            raise AssertionError(f"{self.params['name']} exists after all")
        o.infeasible()
