"""The console's screens: one screen or modal per module."""
