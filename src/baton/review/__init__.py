"""``baton review``: gate a change made elsewhere (a diff, a branch, a commit) or a plan."""
