"""Messages: conversations with contacts and numbers, reading (which marks them read), sending."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from control.phone.observation import Bounds
from sims.phone.apps import App
from sims.phone.apps.contacts import digits, random_phone
from sims.phone.ui import Dialog, Field, Route, Screen, Ui, View

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim

SMALL_TALK = ("Are you free this weekend?", "Thanks again for yesterday!", "Running 10 minutes late",
              "Did you see the game last night?", "Call me when you get a chance", "Happy birthday!!",
              "Can you pick up some bread on the way?", "Great news about the job!", "See you soon",
              "Where did you park?", "I found your keys", "Let's catch up next week")


@dataclass
class Message:
    incoming: bool
    text: str
    time: datetime


@dataclass
class Thread:
    number: str
    messages: list[Message] = field(default_factory=list)
    unread: bool = False

    @property
    def last(self) -> datetime:
        return self.messages[-1].time if self.messages else datetime.min


class Messages(App):
    package = "com.google.android.apps.messaging"
    label = "Messages"

    def __init__(self, phone: PhoneSim, rng: random.Random) -> None:
        super().__init__(phone, rng)
        self.threads: dict[str, Thread] = {}
        self.to = ""

    def link(self, apps: dict[str, App], rng: random.Random) -> None:
        """Conversations with some contacts and two strangers (needs the contacts to exist)."""
        contacts = next(a for a in apps.values() if a.label == "Contacts").contacts
        start = self.phone.start_time
        numbers = [c.phone for c in rng.sample(contacts, 6)] + [random_phone(rng), random_phone(rng)]
        for n, number in enumerate(numbers):
            when = start - timedelta(days=n, hours=rng.randrange(1, 9))
            thread = self.thread(number)
            for k in range(rng.randrange(1, 4)):
                thread.messages.append(Message(k % 2 == 0, rng.choice(SMALL_TALK), when + timedelta(minutes=7 * k)))
            thread.unread = thread.messages[-1].incoming and rng.random() < 0.5

    # -- state -----------------------------------------------------------------------------------
    def thread(self, number: str) -> Thread:
        key = digits(number)
        if key not in self.threads:
            self.threads[key] = Thread(number)
        return self.threads[key]

    def receive(self, number: str, text: str, when: datetime | None = None, unread: bool = True) -> None:
        thread = self.thread(number)
        thread.messages.append(Message(True, text, when or self.phone.now))
        thread.unread = unread

    def send(self, number: str, text: str) -> None:
        self.thread(number).messages.append(Message(False, text, self.phone.now))

    def sent_to(self, number: str) -> list[str]:
        """Texts sent to `number`, oldest first."""
        thread = self.threads.get(digits(number))
        return [m.text for m in thread.messages if not m.incoming] if thread else []

    def title(self, number: str) -> str:
        contact = self.phone.app("contacts").by_number(number)
        return contact.name if contact else number

    def ordered(self) -> list[Thread]:
        return sorted((t for t in self.threads.values() if t.messages), key=lambda t: t.last, reverse=True)

    # -- screens ---------------------------------------------------------------------------------
    def screen_main(self, route: Route, ui: Ui) -> Screen:
        area = Bounds(0, ui.top, ui.width, ui.bottom)

        def row(thread: Thread, b: Bounds) -> View | None:
            title = self.title(thread.number)
            return ui.row(b, title, thread.messages[-1].text, strong=thread.unread, avatar=title,
                          on_tap=lambda: self.open("thread", number=thread.number),
                          on_long_press=lambda: self._confirm_delete(thread),
                          key=f"thread:{digits(thread.number)}", rid="conversation")
        listing = ui.list("conversation_list", self.ordered(), ui.dp(200), row, area, empty="No conversations")
        return Screen("Messages", [listing], fab=ui.fab("Start chat", self._new, glyph="edit"),
                      activity="ConversationListActivity")

    def _confirm_delete(self, thread: Thread) -> None:
        """Long-pressing a conversation offers to delete it."""
        def delete() -> None:
            self.threads.pop(digits(thread.number), None)
            self.toast("Conversation deleted")
        self.dialog(Dialog(f"Delete conversation with {self.title(thread.number)}?",
                           message="Its messages will be deleted.", buttons=(("Cancel", None), ("Delete", delete))))

    def _new(self) -> None:
        self.to = ""
        self.open("new")
        self.phone.focus = "messages:to"

    def screen_new(self, route: Route, ui: Ui) -> Screen:
        to = Field("messages:to", lambda: self.to, self._set_to, on_enter=self._to_entered)
        box = ui.field(Bounds(ui.dp(48), ui.top + ui.dp(24), ui.width - ui.dp(48), ui.top + ui.dp(160)), to,
                       hint="Type a name or phone number", rid="recipient_text_view")
        query = self.to.strip().casefold()
        contacts = self.phone.app("contacts")
        shown = [c for c in contacts.sorted() if c.phone and (not query or query in c.name.casefold()
                                                               or query in digits(c.phone))]
        area = Bounds(0, ui.top + ui.dp(190), ui.width, ui.bottom)

        def row(contact: Any, b: Bounds) -> View | None:
            return ui.row(b, contact.name, contact.phone, avatar=contact.first, key=f"contact:{contact.id}",
                          on_tap=lambda: self._start(contact.phone), rid="contact_picker_row")
        listing = ui.list("contact_list", shown, ui.dp(190), row, area, empty="No matching contacts")
        return Screen("New conversation", [box, listing], up=True, activity="NewConversationActivity")

    def _set_to(self, value: str) -> None:
        self.to = value
        self.route.state["scroll:contact_list"] = 0

    def _to_entered(self) -> None:
        typed = self.to.strip()
        contact = self.phone.app("contacts").find(typed)
        if contact is not None and contact.phone:
            self._start(contact.phone)
        elif len(digits(typed)) >= 3 and digits(typed).lstrip("+").isdigit():
            self._start(typed)
        else:
            self.toast("Enter a contact's name or a phone number")

    def _start(self, number: str) -> None:
        self.close()
        self.open("thread", number=number)
        self.phone.focus = "messages:compose"

    def screen_thread(self, route: Route, ui: Ui) -> Screen:
        number = route.args["number"]
        thread = self.thread(number)
        thread.unread = False
        route.state.setdefault("draft", "")
        compose_h = ui.dp(150)
        area = Bounds(0, ui.top, ui.width, ui.bottom - compose_h - ui.dp(20))

        def bubble(message: Message, b: Bounds) -> View | None:
            width = min(ui.width * 3 // 4, ui.dp(80) + len(message.text) * ui.dp(20))
            left = b.right - ui.dp(40) - width if not message.incoming else b.left + ui.dp(40)
            return View("android.widget.TextView", Bounds(left, b.top + ui.dp(14), left + width, b.bottom - ui.dp(14)),
                        text=message.text, rid="message_text", paint="bubble",
                        tone="" if message.incoming else "accent",
                        desc=("Received" if message.incoming else "You") + f" {message.time:%b %-d %-I:%M %p}")
        items = thread.messages
        # open at the newest messages, as a messaging app does
        row = ui.dp(240)   # room for two lines of text per bubble
        route.state.setdefault("scroll:messages_list", max(0, len(items) - max(1, area.height // row)))
        listing = ui.list("messages_list", items, row, bubble, area)
        compose = Field("messages:compose", lambda: route.state["draft"],
                        lambda v: route.state.__setitem__("draft", v))
        top = ui.bottom - compose_h
        box = ui.field(Bounds(ui.dp(40), top, ui.width - ui.dp(200), ui.bottom - ui.dp(10)), compose,
                       hint="Text message", rid="compose_message_text")
        send = ui.icon_button(Bounds(ui.width - ui.dp(180), top, ui.width - ui.dp(40), ui.bottom - ui.dp(10)),
                              "send", "Send SMS", lambda: self._send(route), rid="send_message_button")
        title = self.title(number)
        return Screen(title, [listing, box, send], up=True, activity="ConversationActivity")

    def _send(self, route: Route) -> None:
        text = route.state.get("draft", "").strip()
        if not text:
            self.toast("Type a message first")
            return
        self.send(route.args["number"], text)
        route.state["draft"] = ""
        route.state.pop("scroll:messages_list", None)
