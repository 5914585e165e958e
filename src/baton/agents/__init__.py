"""Coding agents (Claude Code, Codex) in baton's roles: ``cli.py`` says how each is
started and read, ``backend.py`` runs one behind the role seam (docs/agents.md)."""
