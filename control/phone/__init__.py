"""The phone contract: one action type (`JSONAction`), frozen observations (`Observation`,
`UIElement`), UiAutomator2 page source parsing, the `PhoneDevice` interface, `RemotePhone` and
`PhoneService` for the bus, and `check_phone`, the conformance check every phone passes."""
from control.phone.action import InvalidAction, JSONAction
from control.phone.check import ConformanceError, PhoneReport, check_phone
from control.phone.device import DeviceClosed, DeviceError, PhoneDevice, SessionLost, UnsupportedCommand
from control.phone.observation import BadObservation, Bounds, Observation, UIElement
from control.phone.page_source import PageSourceError, Screen, parse_page_source
from control.phone.remote import PhoneService, RemotePhone

__all__ = ["BadObservation", "Bounds", "ConformanceError", "DeviceClosed", "DeviceError",
           "InvalidAction", "JSONAction", "Observation", "PageSourceError", "PhoneDevice",
           "PhoneReport", "PhoneService", "RemotePhone", "Screen", "SessionLost", "UIElement",
           "UnsupportedCommand", "check_phone", "parse_page_source"]
