"""The console's widgets: one widget per module."""
