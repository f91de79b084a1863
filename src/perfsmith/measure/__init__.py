"""perfsmith.measure."""
