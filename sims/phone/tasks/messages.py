"""Messages tasks: text a contact or a number, reply, read, share a number from Contacts, and a
recipient that does not exist."""
from __future__ import annotations

import random
from typing import Any

from sims.phone.apps.contacts import digits, random_phone
from sims.phone.oracle import Oracle
from sims.phone.phone import PhoneSim
from sims.phone.tasks.base import Task, normalize
from sims.phone.tasks.contacts import ensure, pick, stranger

TEXTS = ("On my way!", "See you at 7", "Can we move lunch to Friday?", "Thanks for the book",
         "I'll bring dessert", "Running late, sorry", "Happy anniversary!", "Call me tonight")
QUESTIONS = ("Can you send me the address?", "Are we still on for tennis?", "Which train are you taking?",
             "Did you feed the cat?", "What time does the film start?")


def sent(phone: PhoneSim, number: str, text: str) -> bool:
    return any(normalize(t) == normalize(text) for t in phone.app("messages").sent_to(number))


def send_from_new_chat(o: Oracle, recipient: str, text: str) -> None:
    o.open("Messages")
    o.tap("Start chat")
    o.type(recipient, into="Type a name or phone number")
    o.type(text, into="Text message")
    o.tap("Send SMS")


class MessagesSendToContact(Task):
    app, difficulty, optimal = "Messages", "medium", 6
    goals = ("Text {name}: \"{text}\".", "Send {name} a message saying \"{text}\".", "Message {name} \"{text}\".")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {**pick(phone, rng), "text": rng.choice(TEXTS)}

    def setup(self, phone: PhoneSim) -> None:
        ensure(phone, self.params["name"], self.params["phone"])

    def succeeded(self, phone: PhoneSim) -> bool:
        contact = phone.app("contacts").find(self.params["name"])
        return contact is not None and sent(phone, contact.phone, self.params["text"])

    def solve(self, o: Oracle) -> None:
        send_from_new_chat(o, self.params["name"], self.params["text"])
        o.complete()


class MessagesSendToNumber(Task):
    app, difficulty, optimal = "Messages", "medium", 6
    goals = ("Send \"{text}\" to {number}.", "Text the number {number}: {text}", "Message {number} saying \"{text}\".")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"number": random_phone(rng), "text": rng.choice(TEXTS)}

    def succeeded(self, phone: PhoneSim) -> bool:
        return sent(phone, self.params["number"], self.params["text"])

    def solve(self, o: Oracle) -> None:
        send_from_new_chat(o, self.params["number"], self.params["text"])
        o.complete()


class MessagesReply(Task):
    app, difficulty, optimal = "Messages", "medium", 5
    goals = ("Reply to {name}'s last message with \"{text}\".", "Answer {name}: \"{text}\".",
             "{name} texted me; reply \"{text}\".")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {**pick(phone, rng), "question": rng.choice(QUESTIONS), "text": rng.choice(TEXTS)}

    def setup(self, phone: PhoneSim) -> None:
        contact = ensure(phone, self.params["name"], self.params["phone"])
        phone.app("messages").receive(contact.phone, self.params["question"])

    def succeeded(self, phone: PhoneSim) -> bool:
        contact = phone.app("contacts").find(self.params["name"])
        return contact is not None and sent(phone, contact.phone, self.params["text"])

    def solve(self, o: Oracle) -> None:
        o.open("Messages")
        o.tap(self.params["name"])
        o.type(self.params["text"], into="Text message")
        o.tap("Send SMS")
        o.complete()


class MessagesLastMessageAnswer(Task):
    app, difficulty, kind, optimal = "Messages", "easy", "answer", 3
    goals = ("What was the last thing {name} texted me?", "Read me {name}'s latest message.",
             "What did {name} say in their last text?")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {**pick(phone, rng), "question": rng.choice(QUESTIONS)}

    def setup(self, phone: PhoneSim) -> None:
        contact = ensure(phone, self.params["name"], self.params["phone"])
        phone.app("messages").receive(contact.phone, self.params["question"])

    def expected(self, phone: PhoneSim) -> str:
        return self.params["question"]

    def solve(self, o: Oracle) -> None:
        o.open("Messages")
        o.tap(self.params["name"])
        received = [e.text for e in o.look().elements if e.content_desc.startswith("Received")]
        o.answer(received[-1])


class MessagesShareNumber(Task):
    app, apps, difficulty, optimal = "Messages", ("Contacts", "Messages"), "hard", 8
    goals = ("Send {to}'s phone number to {name}.", "Text {name} the number I have for {to}.",
             "{name} needs {to}'s number: message it to them.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        first = pick(phone, rng)
        others = [c for c in phone.app("contacts").contacts if c.name != first["name"]]
        other = rng.choice(sorted(others, key=lambda c: c.id))
        return {**first, "to": other.name, "to_phone": other.phone}

    def setup(self, phone: PhoneSim) -> None:
        ensure(phone, self.params["name"], self.params["phone"])
        ensure(phone, self.params["to"], self.params["to_phone"])

    def succeeded(self, phone: PhoneSim) -> bool:
        contacts = phone.app("contacts")
        receiver, shared = contacts.find(self.params["name"]), contacts.find(self.params["to"])
        if receiver is None or shared is None:
            return False
        number = digits(shared.phone).lstrip("+")
        return any(number[-10:] in normalize(t) for t in phone.app("messages").sent_to(receiver.phone))

    def solve(self, o: Oracle) -> None:
        o.open("Contacts")
        o.tap(self.params["to"])
        number = o.look().elements[o.index(rid="phone") + 1].text
        send_from_new_chat(o, self.params["name"], number)
        o.complete()


class MessagesUnknownRecipientInfeasible(Task):
    app, difficulty, kind, optimal = "Messages", "medium", "infeasible", 4
    goals = ("Text {name} \"{text}\".", "Send {name} a message: {text}", "Message {name} saying \"{text}\".")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"name": stranger(phone, rng), "text": rng.choice(TEXTS)}

    def solve(self, o: Oracle) -> None:
        o.open("Messages")
        o.tap("Start chat")
        o.type(self.params["name"], into="Type a name or phone number")   # no such contact, no number
        o.infeasible()
