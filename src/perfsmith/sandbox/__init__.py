"""perfsmith.sandbox."""
