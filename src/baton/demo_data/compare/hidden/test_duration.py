import unittest

from duration import parse_duration


class HiddenDuration(unittest.TestCase):
    def test_hours_and_minutes(self):
        self.assertEqual(parse_duration("1h30m"), 5400)

    def test_hours(self):
        self.assertEqual(parse_duration("2h"), 7200)

    def test_all_units(self):
        self.assertEqual(parse_duration("1h1m1s"), 3661)
