"""perfsmith.loop."""
