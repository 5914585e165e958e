def chunks(items, size):
    """items in lists of ``size``; the last one may be shorter."""
    return [items[i:i + size] for i in range(0, len(items) - size + 1, size)]
