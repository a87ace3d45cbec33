"""Real devices served as daemons: `android/` (phones and emulators through Appium, adb discovery)."""
