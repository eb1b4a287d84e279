"""Integrations with trainers; each imports its trainer lazily."""
