"""Backends run compiled graphs: each registers one kernel per Op class."""
