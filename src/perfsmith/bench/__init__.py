"""perfsmith.bench: task sets, batch evaluation, metrics and reports."""
