"""perfsmith.models."""
