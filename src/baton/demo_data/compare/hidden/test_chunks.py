import unittest

from chunks import chunks


class HiddenChunks(unittest.TestCase):
    def test_last_shorter(self):
        self.assertEqual(chunks([1, 2, 3], 2), [[1, 2], [3]])

    def test_bad_size(self):
        for size in (0, -1):
            with self.assertRaises(ValueError):
                chunks([1, 2], size)
