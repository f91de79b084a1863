"""Reviewing runs: the terminal view, the single-file HTML report and the local web app."""
