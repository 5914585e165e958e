import unittest

from chunks import chunks
from clamp import clamp
from duration import parse_duration
from slug import slugify


class ToolkitTest(unittest.TestCase):
    def test_clamp_inside(self):
        self.assertEqual(clamp(5, 0, 10), 5)

    def test_slug_one_word(self):
        self.assertEqual(slugify("abc"), "abc")

    def test_duration_seconds(self):
        self.assertEqual(parse_duration("90s"), 90)

    def test_chunks_even(self):
        self.assertEqual(chunks([1, 2, 3, 4], 2), [[1, 2], [3, 4]])


if __name__ == "__main__":
    unittest.main()
