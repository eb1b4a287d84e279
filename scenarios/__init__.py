"""Scenario packs shipped with prm-gym: one folder per family (data, not code)."""
