"""perfsmith.agents."""
