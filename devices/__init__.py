"""Real devices served as daemons (Android through Appium, adb discovery).

Nothing here yet: this package exists so the layout is in place for the issues that fill it.
"""
