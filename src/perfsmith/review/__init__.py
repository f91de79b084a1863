"""perfsmith.review."""
