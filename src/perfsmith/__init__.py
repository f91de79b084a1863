"""perfsmith: make code faster with LLM agents, and prove every gain."""

__version__ = "0.1.0"
