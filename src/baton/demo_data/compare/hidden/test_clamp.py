import unittest

from clamp import clamp


class HiddenClamp(unittest.TestCase):
    def test_above(self):
        self.assertEqual(clamp(15, 0, 10), 10)

    def test_below(self):
        self.assertEqual(clamp(-5, 0, 10), 0)

    def test_edges(self):
        self.assertEqual((clamp(0, 0, 10), clamp(10, 0, 10)), (0, 10))
