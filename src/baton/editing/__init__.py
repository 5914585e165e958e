"""The implementer's change by a model, in its vendor's edit format (docs/edit-format.md)."""
