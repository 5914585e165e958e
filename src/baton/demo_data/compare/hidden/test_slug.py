import unittest

from slug import slugify


class HiddenSlug(unittest.TestCase):
    def test_punctuation(self):
        self.assertEqual(slugify("Hello, World!"), "hello-world")

    def test_spaces(self):
        self.assertEqual(slugify("  Two   spaces "), "two-spaces")
