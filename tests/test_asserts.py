"""The assertion-loosening detector on a table of real edits: each loosening is flagged
with its test function and line, and harmless edits are not."""

from __future__ import annotations

import textwrap

import pytest

from baton.evidence.asserts import loosened


def _test(body: str, name: str = "test_it", method: bool = False) -> str:
    body = textwrap.indent(textwrap.dedent(body).strip("\n"), "        " if method else "    ")
    if method:
        return f"import unittest\n\nclass T(unittest.TestCase):\n    def {name}(self):\n{body}\n"
    return f"import pytest\n\n\ndef {name}():\n{body}\n"


# (old body, new body, words the finding must say); unittest cases are marked "self."
LOOSENED = {
    "== to truthiness": ('assert greet("Ada") == "Hello, Ada!"', 'assert greet("Ada")',
                         "truthiness"),
    "== to in": ('assert greet("Ada") == "Hello, Ada!"', 'assert "Ada" in greet("Ada")',
                 "membership"),
    "== to is not None": ("assert parse(s) == 3", "assert parse(s) is not None", "truthiness"),
    "== on a name to truthiness": ("r = f()\nassert r == 1", "r = f()\nassert r", "truthiness"),
    "< to truthiness": ("assert size(x) < 10", "assert size(x)", "truthiness"),
    "or True": ("assert total(xs) == 6", "assert total(xs) == 6 or True", "cannot fail"),
    "assert True": ("assert check(x) == 1", "assert check(x) or 1 or True", "cannot fail"),
    "assertEqual to assertTrue": ("self.assertEqual(f(1), 2)", "self.assertTrue(f(1))",
                                  "truthiness"),
    "assertEqual to assertIsNotNone": ("self.assertEqual(f(1), 2)",
                                       "self.assertIsNotNone(f(1))", "truthiness"),
    "assertEqual to assertIn": ("self.assertEqual(f(1), 2)", "self.assertIn(2, f(1))",
                                "membership"),
    "assertListEqual to assertTrue": ("self.assertListEqual(items(), [1])",
                                      "self.assertTrue(items())", "truthiness"),
    "assertTrue(True)": ("self.assertTrue(ok(x))", "self.assertTrue(True or ok(x))",
                         "truthiness"),
    "approx rel widened": ("assert area(r) == pytest.approx(3.14, rel=1e-6)",
                           "assert area(r) == pytest.approx(3.14, rel=0.5)", "`rel` widened"),
    "approx abs added": ("assert area(r) == pytest.approx(3.14)",
                         "assert area(r) == pytest.approx(3.14, abs=1)", "`abs` widened"),
    "assertAlmostEqual places": ("self.assertAlmostEqual(f(1), 0.5, places=7)",
                                 "self.assertAlmostEqual(f(1), 0.5, places=1)",
                                 "`places` widened"),
    "assertAlmostEqual delta": ("self.assertAlmostEqual(f(1), 0.5, delta=0.01)",
                                "self.assertAlmostEqual(f(1), 0.5, delta=10)",
                                "`delta` widened"),
    "isclose rel_tol": ("assert math.isclose(f(), 1.0)",
                        "assert math.isclose(f(), 1.0, rel_tol=0.9)", "`rel_tol` widened"),
    "raises broadened to Exception": (
        "with pytest.raises(ValueError):\n    parse('x')",
        "with pytest.raises(Exception):\n    parse('x')", "broadened to Exception"),
    "raises broadened to a base class": (
        "with pytest.raises(KeyError):\n    lookup('x')",
        "with pytest.raises(LookupError):\n    lookup('x')", "broadened to LookupError"),
    "raises tuple widened": (
        "with pytest.raises(ValueError):\n    parse('x')",
        "with pytest.raises((ValueError, TypeError)):\n    parse('x')", "TypeError"),
    "raises match dropped": (
        "with pytest.raises(ValueError, match='bad'):\n    parse('x')",
        "with pytest.raises(ValueError):\n    parse('x')", "`match=`"),
    "assertRaises broadened": (
        "with self.assertRaises(ZeroDivisionError):\n    div(1, 0)",
        "with self.assertRaises(BaseException):\n    div(1, 0)", "broadened"),
    "try/except pass": ("assert f() == 1",
                        "try:\n    assert f() == 1\nexcept AssertionError:\n    pass",
                        "swallows"),
    "bare except": ("self.assertEqual(f(), 1)",
                    "try:\n    self.assertEqual(f(), 1)\nexcept:\n    pass", "swallows"),
    "suppress": ("assert f() == 1",
                 "import contextlib\nwith contextlib.suppress(AssertionError):\n"
                 "    assert f() == 1", "suppress"),
    "early return": ("x = f()\nassert x == 1", "x = f()\nreturn\nassert x == 1",
                     "early `return`"),
    "if False": ("assert f() == 1", "if False:\n    assert f() == 1", "`if` that is false"),
    "if 0 and": ("assert f() == 1", "if 0 and DEBUG:\n    assert f() == 1", "false"),
    "else of if True": ("assert f() == 1", "if True:\n    pass\nelse:\n    assert f() == 1",
                        "true"),
    "while False": ("assert f() == 1", "while False:\n    assert f() == 1", "never runs"),
}

HARMLESS = {
    "unchanged": ("assert f(1) == 2", "assert f(1) == 2"),
    "assertion added": ("assert f(1) == 2", "assert f(1) == 2\nassert f(2) == 3"),
    "truthiness check added before": ("r = f()\nassert r == 1",
                                      "r = f()\nassert r\nassert r == 1"),
    "membership check added after": ("assert f() == [1]", "assert f() == [1]\nassert 1 in f()"),
    "variable renamed": ("result = f()\nassert result == 1", "value = f()\nassert value == 1"),
    "reformatted": ("assert f(1)==2", "assert (\n    f(1)\n    == 2\n)"),
    "expected value fixed": ("assert f(1) == 2", "assert f(1) == 3"),
    "sides swapped": ("assert f(1) == 2", "assert 2 == f(1)"),
    "truthiness to ==": ('assert greet("Ada")', 'assert greet("Ada") == "Hello, Ada!"'),
    "in to ==": ("assert 2 in f()", "assert f() == [2]"),
    "assertTrue to assertEqual": ("self.assertTrue(f(1))", "self.assertEqual(f(1), 2)"),
    "tolerance tightened": ("assert g() == pytest.approx(1, rel=0.1)",
                            "assert g() == pytest.approx(1, rel=0.01)"),
    "places raised": ("self.assertAlmostEqual(f(1), 0.5, places=2)",
                      "self.assertAlmostEqual(f(1), 0.5, places=5)"),
    "raises narrowed": ("with pytest.raises(Exception):\n    parse('x')",
                        "with pytest.raises(ValueError):\n    parse('x')"),
    "match added": ("with pytest.raises(ValueError):\n    parse('x')",
                    "with pytest.raises(ValueError, match='bad'):\n    parse('x')"),
    "comment added": ("assert f(1) == 2", "# the documented case\nassert f(1) == 2"),
    "setup line added": ("assert f(1) == 2", "cache.clear()\nassert f(1) == 2"),
    "if True around": ("assert f(1) == 2", "if True:\n    assert f(1) == 2"),
    "try that re-raises": ("assert f() == 1",
                           "try:\n    assert f() == 1\nexcept AssertionError:\n"
                           "    log('failed')\n    raise"),
    "try except ValueError": ("assert f() == 1",
                              "try:\n    assert f() == 1\nexcept ValueError:\n    pass"),
    "return after": ("assert f() == 1", "assert f() == 1\nreturn"),
    "assertEqual to a plain assert": ("self.assertEqual(f(1), 2)", "assert f(1) == 2"),
    "message added": ("assert f(1) == 2", "assert f(1) == 2, 'f doubles'"),
    "assertEqual to assertListEqual": ("self.assertEqual(items(), [1])",
                                       "self.assertListEqual(items(), [1])"),
}


@pytest.mark.parametrize("case", sorted(LOOSENED))
def test_a_loosened_assertion_is_flagged_with_its_function_and_line(case):
    old, new, said = LOOSENED[case]
    method = "self." in old
    found = loosened(_test(old, method=method), _test(new, method=method))
    assert found is not None and len(found) == 1, (case, found)
    (finding,) = found
    assert finding.function == ("T.test_it" if method else "test_it")
    new_text = _test(new, method=method).splitlines()
    assert 0 < finding.line <= len(new_text)
    assert said in str(finding), str(finding)
    assert str(finding).startswith(f"`{finding.function}` line {finding.line}: ")


@pytest.mark.parametrize("case", sorted(HARMLESS))
def test_a_harmless_edit_is_not_flagged(case):
    old, new = HARMLESS[case]
    method = "self." in old
    assert loosened(_test(old, method=method), _test(new, method=method)) == [], case


def test_the_table_is_as_large_as_promised():
    assert len(LOOSENED) >= 25 and len(HARMLESS) >= 15


def test_a_file_that_does_not_parse_is_left_to_the_token_rule():
    assert loosened("def test_x(:\n", _test("assert f() == 1")) is None
