"""The simulator's apps. Each holds real state (the task suite sets it up and reads success from it)
and builds its screens from that state with the `Ui` helpers."""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, ClassVar

from sims.phone.ui import Dialog, Route, Screen, Ui

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim


class App:
    """An app: `package`, the `label` under its icon, its first screen (`root`), and one
    `screen_<route>` method per screen."""

    package: ClassVar[str]
    label: ClassVar[str]
    root: ClassVar[str] = "main"

    def __init__(self, phone: PhoneSim, rng: random.Random) -> None:
        self.phone = phone

    def screen(self, route: Route, ui: Ui) -> Screen:
        return getattr(self, f"screen_{route.name}")(route, ui)

    # -- what handlers call ----------------------------------------------------------------------
    def open(self, name: str, **args: Any) -> None:
        """Go to screen `name` of this app (pushed on its back stack)."""
        self.phone.push(self.package, Route(name, args))

    def close(self) -> None:
        """Leave the current screen, as Back does."""
        self.phone.pop(self.package)

    def toast(self, text: str) -> None:
        self.phone.toast(text)

    def dialog(self, dialog: Dialog) -> None:
        self.phone.show_dialog(dialog)

    def gone(self, ui: Ui, what: str, activity: str) -> Screen:
        """The screen of something deleted while its page was on the back stack."""
        return Screen(what.capitalize(), [ui.text(ui.column(48).take(ui.dp(120)), f"This {what} was deleted",
                                                  tone="muted")], up=True, activity=activity)

    @property
    def route(self) -> Route:
        return self.phone.stack(self.package)[-1]


def build_apps(phone: PhoneSim, rng: random.Random) -> dict[str, App]:
    """Every installed app, by package, with content drawn from `rng` (order matters: the seed)."""
    from sims.phone.apps.calendar import Calendar
    from sims.phone.apps.clock import Clock
    from sims.phone.apps.contacts import Contacts
    from sims.phone.apps.messages import Messages
    from sims.phone.apps.notes import Notes
    from sims.phone.apps.settings import Settings

    apps: dict[str, App] = {}
    for cls in (Settings, Contacts, Clock, Notes, Messages, Calendar):
        app = cls(phone, rng)
        apps[app.package] = app
    for app in apps.values():  # content that spans apps (messages from contacts...) comes last
        link = getattr(app, "link", None)
        if link is not None:
            link(apps, rng)
    return apps
