"""Assertions loosened in place, read from the Python AST of the old and the new test.

Each test function present on both sides has its checks (``assert``, ``self.assert*``,
``pytest.raises``, tolerances) matched by what they check, then compared: a comparison
dropped or weakened (``==`` -> truthiness, ``==`` -> ``in``, ``assertEqual`` ->
``assertTrue``), ``or True``, a tolerance widened, an expected exception broadened, an
assertion that can no longer fail (inside ``try/except: pass``, after an early
``return``, under an ``if`` that is false). Adding a check, renaming a variable or
reformatting changes nothing here.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

# How much an assertion checks: an exact comparison, membership, truthiness, nothing.
EXACT, MEMBER, TRUTHY, NOTHING = 3, 2, 1, 0
_WORDS = {EXACT: "a comparison", MEMBER: "a membership test", TRUTHY: "a truthiness test",
          NOTHING: "a check that cannot fail"}
_METHODS = {
    **dict.fromkeys(("assertEqual", "assertEquals", "assertNotEqual", "assertIs",
                     "assertIsNot", "assertDictEqual", "assertListEqual", "assertTupleEqual",
                     "assertSetEqual", "assertSequenceEqual", "assertMultiLineEqual",
                     "assertCountEqual", "assertGreater", "assertGreaterEqual", "assertLess",
                     "assertLessEqual", "assertAlmostEqual", "assertNotAlmostEqual",
                     "assertIsNone"), EXACT),
    **dict.fromkeys(("assertIn", "assertNotIn", "assertRegex", "assertIsInstance",
                     "assertDictContainsSubset"), MEMBER),
    **dict.fromkeys(("assertTrue", "assertFalse", "assertIsNotNone", "assert_"), TRUTHY),
}
_EXACT_OPS = (ast.Eq, ast.NotEq, ast.Is, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
# Tolerance keywords: larger is looser, except the digit counts (smaller is looser).
_WIDER = {"rel", "abs", "rel_tol", "abs_tol", "rtol", "atol", "delta", "tolerance"}
_DIGITS = {"places": 7, "decimal": 6}
_BROAD = {"Exception", "BaseException"}
_CAUGHT = {"Exception", "BaseException", "AssertionError"}
_SWALLOWED: set[str | None] = {None, *_CAUGHT}


@dataclass(frozen=True)
class Loosening:
    """One assertion loosened in a test function, at a line of the new file."""

    function: str
    line: int
    detail: str

    def __str__(self) -> str:
        return f"`{self.function}` line {self.line}: {self.detail}"


@dataclass
class _Check:
    operands: set[str]
    strength: int
    line: int
    text: str
    dead: str = ""  # why it can no longer fail ("" when it can)
    tolerances: dict[str, float] = field(default_factory=dict)
    raises: tuple[str, ...] = ()
    match: bool = False


def loosened(old: str, new: str) -> list[Loosening] | None:
    """What the new source loosened; None when either side does not parse."""
    try:
        before, after = _functions(ast.parse(old)), _functions(ast.parse(new))
    except (SyntaxError, ValueError):
        return None
    old_lines, new_lines = old.splitlines(), new.splitlines()
    found: list[Loosening] = []
    for name, node in after.items():
        if name in before and _source(old_lines, before[name]) != _source(new_lines, node):
            found += _compare(name, _checks(before[name]), _checks(node))
    return found


def _source(lines: list[str], node: ast.stmt) -> list[str]:
    """A function's lines, decorators included (an unchanged function is not read)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return lines[first - 1:node.end_lineno]


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    out: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and node.name.startswith("test"):
                out[prefix + node.name] = node

    visit(tree.body, "")
    return out


def _compare(name: str, old: list[_Check], new: list[_Check]) -> list[Loosening]:
    found: list[Loosening] = []
    unmatched = dict(enumerate(new))
    for position, before in enumerate(old):
        # the same check kept first (an added `assert x` beside a kept `assert x == 1` is
        # no loss), then the one about the most of the same things, nearest in order
        scored = [((c.text == before.text, len(c.operands & before.operands),
                    -abs(i - position), c.strength), i)
                  for i, c in unmatched.items() if c.operands & before.operands]
        if not scored:
            continue  # a removed assertion: tampering.py counts those
        after = unmatched.pop(max(scored)[1])
        said = _worse(before, after)
        if said:
            found.append(Loosening(name, after.line, f"`{_short(before.text)}` became "
                                                     f"`{_short(after.text)}` ({said})"))
    return found


def _worse(before: _Check, after: _Check) -> str:
    if after.dead and not before.dead:
        return after.dead
    if after.strength < before.strength:
        return f"{_WORDS[before.strength]} weakened to {_WORDS[after.strength]}"
    for key, value in after.tolerances.items():
        old = before.tolerances.get(key, _DIGITS.get(key, 0.0))
        if (value < old) if key in _DIGITS else (value > old):
            return f"tolerance `{key}` widened from {old:g} to {value:g}"
    if before.raises and after.raises:
        broader = [n for n in after.raises if n not in before.raises
                   and any(_broader(n, o) for o in before.raises)]
        if broader:
            return f"expected exception broadened to {', '.join(broader)}"
        if set(after.raises) > set(before.raises):
            return "more exceptions accepted: " + ", ".join(
                n for n in after.raises if n not in before.raises)
    if before.match and not after.match:
        return "the expected message (`match=`) was dropped"
    return ""


def _broader(new: str, old: str) -> bool:
    if new in _BROAD and old not in _BROAD:
        return True
    a, b = getattr(builtins, new, None), getattr(builtins, old, None)
    return isinstance(a, type) and isinstance(b, type) and a is not b and issubclass(b, a)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 100 else text[:97] + "..."


# -- reading the checks of one function ----------------------------------------------------


def _checks(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[_Check]:
    found: list[_Check] = []
    _walk(func.body, "", found)
    return found


def _walk(body: list[ast.stmt], dead: str, found: list[_Check]) -> None:
    stopped = dead
    for stmt in body:
        _statement(stmt, stopped, found)
        if not stopped and isinstance(stmt, ast.Return | ast.Raise):
            stopped = "an early `return` before it" if isinstance(stmt, ast.Return) else \
                "a `raise` before it"


def _statement(stmt: ast.stmt, dead: str, found: list[_Check]) -> None:
    if isinstance(stmt, ast.Assert):
        found.append(_from_assert(stmt, dead))
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        check = _from_call(stmt.value, dead)
        if check is not None:
            found.append(check)
    elif isinstance(stmt, ast.If):
        always = _constant(stmt.test)
        _walk(stmt.body, dead or ("under an `if` that is false" if always is False else ""),
              found)
        _walk(stmt.orelse, dead or ("under the `else` of an `if` that is true"
                                    if always is True else ""), found)
    elif isinstance(stmt, ast.Try):
        _walk(stmt.body, dead or _swallowing(stmt), found)
        for handler in stmt.handlers:
            _walk(handler.body, dead, found)
        _walk(stmt.orelse, dead, found)
        _walk(stmt.finalbody, dead, found)
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        _with(stmt, dead, found)
    elif isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
        loop_dead = "in a loop that never runs" if isinstance(stmt, ast.While) and \
            _constant(stmt.test) is False else ""
        _walk(stmt.body, dead or loop_dead, found)
        _walk(stmt.orelse, dead, found)
    else:
        _expressions(stmt, dead, found)


def _expressions(stmt: ast.stmt, dead: str, found: list[_Check]) -> None:
    """Tolerance calls inside other statements (``x = pytest.approx(...)``)."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and _tolerances(node):
            found.append(_Check({_name(node.func)}, EXACT, node.lineno, ast.unparse(node),
                                dead, _tolerances(node)))


def _with(stmt: ast.With | ast.AsyncWith, dead: str, found: list[_Check]) -> None:
    inner = dead
    for item in stmt.items:
        call = item.context_expr
        if not isinstance(call, ast.Call):
            continue
        name = _name(call.func)
        if name.endswith(("raises", "assertRaises", "assertRaisesRegex")):
            found.append(_raises(call, dead))
        elif name.endswith("suppress") and any(
                _name(a) in _CAUGHT for a in call.args):
            inner = inner or "inside `contextlib.suppress(...)`"
    _walk(stmt.body, inner, found)


def _raises(call: ast.Call, dead: str) -> _Check:
    args = call.args[0] if call.args else None
    names = tuple(_name(e) for e in args.elts) if isinstance(args, ast.Tuple) else \
        ((_name(args),) if args is not None else ())
    match = any(k.arg in ("match",) for k in call.keywords) or \
        _name(call.func).endswith("Regex")
    return _Check({"raises"}, EXACT, call.lineno, ast.unparse(call), dead, raises=names,
                  match=match)


def _swallowing(stmt: ast.Try) -> str:
    for handler in stmt.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        caught = {None if k is None else _name(k) for k in kinds}
        raises = any(isinstance(n, ast.Raise) for b in handler.body for n in ast.walk(b))
        if caught & _SWALLOWED and not raises:
            return "inside a `try` whose `except` swallows the failure"
    return ""


def _from_assert(stmt: ast.Assert, dead: str) -> _Check:
    test = stmt.test
    text = "assert " + ast.unparse(test)
    tolerances = _all_tolerances(test)
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or) and any(
            _constant(v) is True for v in test.values):
        return _Check(_operands(test.values), NOTHING, stmt.lineno, text, dead, tolerances)
    if _constant(test) is True:
        return _Check({ast.dump(test)}, NOTHING, stmt.lineno, text, dead)
    if isinstance(test, ast.Compare):
        ops = test.ops
        strength = EXACT if all(isinstance(o, _EXACT_OPS) for o in ops) else MEMBER
        if any(isinstance(o, ast.IsNot) for o in ops) and any(
                isinstance(c, ast.Constant) and c.value is None for c in test.comparators):
            strength = TRUTHY
        return _Check(_operands([test.left, *test.comparators]), strength, stmt.lineno, text,
                      dead, tolerances)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    return _Check(_operands([test]), TRUTHY, stmt.lineno, text, dead, tolerances)


def _from_call(call: ast.Call, dead: str) -> _Check | None:
    name = _name(call.func).rsplit(".", 1)[-1]
    if name in _METHODS and call.args:
        if name in ("assertTrue", "assert_") and _constant(call.args[0]) is True:
            strength = NOTHING
        else:
            strength = _METHODS[name]
        return _Check(_operands(call.args[:2]), strength, call.lineno, ast.unparse(call), dead,
                      _tolerances(call))
    if name in ("assertRaises", "assertRaisesRegex") and call.args:
        return _raises(call, dead)
    if _tolerances(call):
        return _Check({_name(call.func)}, EXACT, call.lineno, ast.unparse(call), dead,
                      _tolerances(call))
    return None


def _operands(nodes: list[ast.expr]) -> set[str]:
    """What an assertion is about: each operand, and each call's function, without
    constants (so a changed expected value or swapped sides still match)."""
    out: set[str] = set()
    for node in _about(nodes):
        if isinstance(node, ast.Constant):
            continue
        out.add(ast.dump(node))
        if isinstance(node, ast.Call):
            out.add("call:" + _name(node.func))
    return out or {"(constants)"}


def _about(nodes: list[ast.expr]) -> list[ast.expr]:
    """The expressions a condition is about: ``a == b`` -> a, b; ``x or True`` -> x."""
    out: list[ast.expr] = []
    for node in nodes:
        if isinstance(node, ast.BoolOp):
            out += _about(node.values)
        elif isinstance(node, ast.Compare):
            out += _about([node.left, *node.comparators])
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out += _about([node.operand])
        else:
            out.append(node)
    return out


def _tolerances(call: ast.Call) -> dict[str, float]:
    out: dict[str, float] = {}
    for keyword in call.keywords:
        if keyword.arg in _WIDER or keyword.arg in _DIGITS:
            value = _number(keyword.value)
            if value is not None:
                out[keyword.arg] = value
    if _name(call.func).endswith("approx") and len(call.args) > 1:
        value = _number(call.args[1])
        if value is not None:
            out["rel"] = value
    if _name(call.func).endswith("assertAlmostEqual") and len(call.args) > 2:
        value = _number(call.args[2])
        if value is not None:
            out["places"] = value
    return out


def _all_tolerances(node: ast.expr) -> dict[str, float]:
    out: dict[str, float] = {}
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            out.update(_tolerances(child))
    return out


def _number(node: ast.expr) -> float | None:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _constant(node: ast.expr) -> bool | None:
    """The truth of a constant condition (``False``, ``0``, ``not True``), else None."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _constant(node.operand)
        return None if inner is None else not inner
    if isinstance(node, ast.BoolOp):
        values = [_constant(v) for v in node.values]
        if isinstance(node.op, ast.And) and False in values:
            return False
        if isinstance(node.op, ast.Or) and True in values:
            return True
    return None


def _name(node: ast.expr | None) -> str:
    if node is None:
        return ""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ast.unparse(node)
