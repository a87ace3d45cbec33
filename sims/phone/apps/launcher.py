"""The home screen: some apps on it, every app in the drawer a swipe up away, a search field."""
from __future__ import annotations

from typing import TYPE_CHECKING

from control.phone.observation import Bounds
from sims.phone.ui import FRAME, RECYCLER, TEXT, Field, Ui, View

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim

HOME_APPS = ("Settings", "Contacts", "Messages", "Clock")   # the rest live in the drawer only


class Launcher:
    def __init__(self, phone: PhoneSim) -> None:
        self.phone = phone
        self.drawer = False
        self.query = ""

    def views(self, ui: Ui) -> list[View]:
        return self._drawer(ui) if self.drawer else self._home(ui)

    def _icon(self, ui: Ui, label: str, left: int, top: int, width: int) -> View:
        app = self.phone.app(label)
        return View(TEXT, Bounds(left, top, left + width, top + ui.dp(250)), text=label, desc=label,
                    clickable=True, long_clickable=True, focusable=True, paint="appicon",
                    on_tap=lambda: self.phone.launch(app.package), key=f"app:{label}")

    def _home(self, ui: Ui) -> list[View]:
        date = View(TEXT, Bounds(ui.dp(60), ui.top + ui.dp(80), ui.width - ui.dp(60), ui.top + ui.dp(200)),
                    text=self.phone.now.strftime("%A, %B %-d"), rid="date", paint="text", size="title")
        width = ui.width // 4
        top = ui.bottom - ui.dp(420)
        icons = [self._icon(ui, label, i * width, top, width) for i, label in enumerate(HOME_APPS)]
        hint = View(TEXT, Bounds(0, ui.bottom - ui.dp(130), ui.width, ui.bottom - ui.dp(60)),
                    text="Swipe up to see all apps", paint="center", size="caption", tone="muted")
        workspace = View(FRAME, Bounds(0, ui.top, ui.width, ui.bottom), rid="workspace",
                         on_drag=self._open_drawer, key="workspace")
        return [workspace.add(date, *icons, hint)]

    def _open_drawer(self, direction: str, distance: int) -> bool:
        if direction != "down":   # a finger moving up
            return False
        self.drawer, self.query = True, ""
        return True

    def _drawer(self, ui: Ui) -> list[View]:
        search = Field("launcher:search", lambda: self.query, self._search)
        box = ui.field(Bounds(ui.dp(60), ui.top + ui.dp(40), ui.width - ui.dp(60), ui.top + ui.dp(170)), search,
                       hint="Search apps", rid="search_box")
        labels = sorted(app.label for app in self.phone.apps.values())
        shown = [label for label in labels if self.query.casefold() in label.casefold()]
        columns, cell_h = 4, ui.dp(300)
        width = ui.width // columns
        area = Bounds(0, ui.top + ui.dp(220), ui.width, ui.bottom)
        grid = View(RECYCLER, area, rid="apps_list", on_drag=self._close_drawer, key="apps")
        for i, label in enumerate(shown):
            grid.add(self._icon(ui, label, (i % columns) * width, area.top + (i // columns) * cell_h, width))
        return [box, grid]

    def _search(self, value: str) -> None:
        self.query = value

    def _close_drawer(self, direction: str, distance: int) -> bool:
        if direction != "up":     # a finger moving down
            return False
        self.drawer = False
        return True
