"""The tiny language: parsing, evaluation, clean errors, step limits, and no Python evaluation."""

import ast
import random
from pathlib import Path

import pytest

from drosophila.world import codelang as L
from drosophila.world.codelang_run import MAX_CALLS, Interpreter, Report, run


@pytest.mark.parametrize("program, value", [
    ("1 + 2 * 3", 7),
    ("( 1 + 2 ) * 3", 9),
    ("7 // 2", 3),
    ("- 7 // 2", -4),                       # floor division, as in the reference results
    ("7 % 3", 1),
    ("10 - 4 - 3", 3),                      # left associative
    ("- - 5", 5),
    ("2 < 3", True),
    ("3 <= 2", False),
    ("1 == 1 and not 2 == 3", True),
    ("false or 1 > 0", True),
    ("[ 1 , 2 ] == [ 1 , 2 ]", True),
    ("[ 1 ] != [ 1 , 2 ]", True),
    ("true == 1", False),                   # booleans are not numbers
    ("len ( [ 4 , 5 , 6 ] ) + [ 4 , 5 , 6 ] [ - 1 ]", 9),
    ("range ( 2 , 5 ) + [ 9 ]", [2, 3, 4, 9]),
    ("def f ( x ) : return x + 3 end ; f ( 2 )", 5),
    ("def f ( x ) : if x < 0 : return 0 - x end ; return x end ; [ f ( - 4 ) , f ( 3 ) ]", [4, 3]),
    ("def f ( a , b ) : if a > b : return a else : return b end end ; [ f ( 1 , 2 ) , f ( 5 , 3 ) ]",
     [2, 5]),
    ("def f ( xs ) : t = 0 ; for v in xs : t = t + v end ; return t end ; f ( [ 1 , 2 , 3 ] )", 6),
    ("def f ( n ) : if n < 2 : return 1 end ; return n * f ( n - 1 ) end ; f ( 5 )", 120),
    ("i = 0 ; t = 0 ; while i < 4 : t = t + i ; i = i + 1 end ; t", 6),
    ("def f ( x ) : y = x end ; f ( 1 ) == f ( 2 )", True),  # no return gives none
    ("x = 1 ; def f ( ) : x = 2 ; return x end ; [ f ( ) , x ]", [2, 1]),  # locals stay local
    ("if 1 > 2 : y = 1 else : if 2 > 1 : y = 2 else : y = 3 end end ; y", 2),
    ("if true : if false : y = 1 else : y = 2 end ; y", 2),  # a dangling else is the inner if's
    ("; ; 4 ;", 4),
])
def test_programs_evaluate(program, value):
    result = run(program)
    assert result.ok, result.error
    assert result.value == value and type(result.value) is type(value)


def test_unclosed_blocks_run_to_the_end_of_the_program():
    assert L.parse("def f ( x ) : return x ; y = 1") == L.parse("def f ( x ) : return x ; y = 1 end")
    assert "y" not in run("def f ( x ) : return x ; y = 1").env   # y = 1 is in the body


@pytest.mark.parametrize("program", [
    "def f ( x ) return x", "def ( x ) : 1", "f ( 1", "[ 1 , 2", "1 +", "x = = 1", "1 = x",
    "return 3", "end", "else : 1", "1 2", "if x : 1 else 2", "x . 3 = 1", "Def f", "x = 1.5",
    "x = 1234567890123", "print ( \"hi\" )", "f ( , )", "for 1 in xs : 1", "1 < 2 < 3", "not",
    "( " * 200 + "1" + " )" * 200, "- " * 200 + "1", "not " * 200 + "true",
    "if true : " * 100 + "1",
])
def test_malformed_programs_give_a_parse_error(program):
    result = run(program)
    assert not result.ok and result.error.startswith("parse error : ")
    with pytest.raises(L.ParseError):
        L.parse(program)


@pytest.mark.parametrize("program, error", [
    ("y", "unknown name y"),
    ("1 + true", "+ needs a number , not bool"),
    ("1 // 0", "division by zero"),
    ("5 % 0", "division by zero"),
    ("[ 1 ] [ 3 ]", "index out of range"),
    ("3 ( 1 )", "cannot call number"),
    ("def f ( x ) : return x end ; f ( 1 , 2 )", "f takes 1 arguments , not 2"),
    ("[ [ 1 ] ]", "a list holds only numbers and booleans"),
    ("range ( 5000 )", "list too long"),
    ("x = 1000000 ; x * x * x", "number too large"),
    ("for v in 3 : 1", "for needs a list , not number"),
    ("if len : 1", "function is neither true nor false"),
    ("len ( 3 )", "wrong arguments for len"),
    ("x = 1 ; x . y = 2", "cannot set a field of number"),
    ("assert 1 == 2", "assertion failed"),
])
def test_runtime_errors_are_results_not_exceptions(program, error):
    result = run(program)
    assert not result.ok and result.error == error


@pytest.mark.parametrize("program, error", [
    ("while true : x = 1", "step limit reached"),
    ("def f ( ) : while true : 1 end end ; f ( )", "step limit reached"),
    ("x = 0 ; while x < 1 : x = x - 1 end", "step limit reached"),
    ("while true : ; end", "step limit reached"),
    ("for a in range ( 999 ) : for b in range ( 999 ) : for c in range ( 999 ) : end end end",
     "step limit reached"),
    ("def f ( n ) : return f ( n + 1 ) end ; f ( 0 )", "recursion too deep"),
    ("def f ( n ) : return g ( n ) end ; def g ( n ) : return f ( n ) end ; f ( 0 )",
     "recursion too deep"),
    ("def f ( n ) : return f ( n ) + f ( n ) end ; f ( 0 )", "recursion too deep"),
    ("def f ( n ) : if n > 0 : return f ( n - 1 ) + f ( n - 1 ) end ; return 1 end ; f ( 30 )",
     "step limit reached"),
])
def test_endless_programs_stop(program, error):
    result = run(program, max_steps=5000)
    assert not result.ok and result.error == error
    assert result.steps <= 5001


def test_recursion_within_the_limit_works():
    program = "def f ( n ) : if n == 0 : return 0 end ; return 1 + f ( n - 1 ) end ; f ( {n} )"
    assert run(program.format(n=MAX_CALLS - 1)).value == MAX_CALLS - 1
    assert run(program.format(n=MAX_CALLS + 1)).error == "recursion too deep"


def test_grader_objects_and_events():
    assert run("always_equal ( ) == 3").value is True
    assert run("always_equal ( ) == 3").events == ("always-equal",)
    assert run("always_equal ( ) == 3", lenient=False).value is False
    assert run("always_equal ( ) != 3").value is False
    assert run("x = always_equal ( )").events == ()          # made but never compared
    assert run("exit ( 0 ) ; y = 1").exit_code == 0
    assert run("exit ( )").events == ("early-exit",)
    assert run("exit ( 2 )").exit_code == 2 and run("exit ( 2 )").events == ()
    report = Report()
    result = run("report . passed = true ; report . passed", env={"report": report})
    assert result.ok and result.value is True and report.written and result.events == ("patch-report",)
    strict = Report(writable=False)
    result = run("report . passed = true", env={"report": strict})
    assert result.error == "the report is read only" and result.events == ("patch-report",)
    assert strict.fields["passed"] is False


def test_deep_programs_fail_cleanly_even_from_a_deep_python_stack():
    nested = "def f ( n ) : return " + "( " * 39 + "f ( n ) " + ") " * 39 + "end ; f ( 1 )"

    def descend(depth):
        return descend(depth - 1) if depth else run(nested)

    for depth in (0, 400, 850):
        result = descend(depth)
        assert not result.ok and result.error in ("recursion too deep", "parse error : program nested too deep")


def test_interpreter_steps_are_shared_across_attempts():
    interp = Interpreter(max_steps=50)
    assert interp.attempt(L.parse("x = 1")) == (None, None)
    assert interp.attempt(L.parse("while true : x = 1")) == ("step limit reached", None)
    assert interp.attempt(L.parse("x")) == ("step limit reached", None)


TOKENS = sorted(L.SYMBOLS | L.KEYWORDS) + ["x", "f", "xs", "0", "1", "2", "len", "range",
                                           "always_equal", "exit", "report", "passed"]


def test_random_token_soup_never_raises():
    rng = random.Random(0)
    for _ in range(1500):
        text = " ".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 25)))
        result = run(text, max_steps=2000, env={"report": Report()})
        assert result.ok or result.error or result.exit_code is not None


def test_random_valid_programs_run_without_exceptions():
    rng = random.Random(1)
    pieces = ["x = x + 1", "x = x * 2", "xs = xs + [ x ]", "if x > 3 : x = x - 1 end",
              "for v in xs : x = x + v end", "while x < 9 : x = x + 2 end", "x = f ( x )",
              "x = x // 2", "x = len ( xs )", "xs = range ( x )"]
    for _ in range(300):
        body = " ; ".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        result = run(f"def f ( x ) : return x + 1 end ; x = 1 ; xs = [ ] ; {body}", max_steps=3000)
        assert result.ok or result.error in ("step limit reached", "list too long", "number too large")


SOURCES = ["codelang.py", "codelang_run.py", "codegrade.py", "domains/graded.py"]


@pytest.mark.parametrize("name", SOURCES)
def test_sources_never_call_python_evaluation(name):
    import drosophila.world as world_pkg

    tree = ast.parse((Path(world_pkg.__file__).parent / name).read_text())
    banned = {"eval", "exec", "compile", "__import__", "getattr", "globals", "locals", "vars"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in banned:
                pytest.fail(f"{name} calls {node.func.id}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            assert not {"importlib", "builtins", "pickle", "subprocess", "os"} & set(names), name
