def parse_duration(text):
    """'1h30m' -> 5400: a duration in seconds, from numbers with units h, m and s."""
    total, number = 0, ""
    for ch in text:
        if ch.isdigit():
            number += ch
        elif ch == "m":
            total += int(number) * 60
            number = ""
        elif ch == "s":
            total += int(number)
            number = ""
        else:
            raise ValueError(f"bad duration {text!r}")
    return total
