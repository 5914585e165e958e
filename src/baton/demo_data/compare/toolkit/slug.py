def slugify(title):
    """'Hello, World!' -> 'hello-world': lower-case words joined by single hyphens."""
    return title.replace(" ", "-")
