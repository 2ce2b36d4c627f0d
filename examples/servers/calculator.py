"""Demo MCP server: arithmetic, and a safe expression evaluator.

Run over stdio: python examples/servers/calculator.py
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

mcp = MCPServer("calculator", instructions="Arithmetic on numbers, plus evaluate() for small expressions.")

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_MAX_EXPRESSION = 200
_MAX_EXPONENT = 1000


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)  # floats only: no unbounded big-int arithmetic
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise ToolError("division by zero")
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ToolError(f"exponent too large (limit {_MAX_EXPONENT})")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex):  # e.g. (-8) ** 0.5
            raise ToolError("result is not a real number")
        return result
    raise ToolError(f"unsupported syntax: {type(node).__name__} (numbers, + - * / ** and parentheses only)")


@mcp.tool()
def add(a: float, b: float) -> float:
    """a + b"""
    return a + b


@mcp.tool()
def multiply(a: float, b: float) -> float:
    """a * b"""
    return a * b


@mcp.tool()
def divide(a: float, b: float) -> float:
    """a / b (dividing by zero is an error)."""
    if b == 0:
        raise ToolError("division by zero")
    return a / b


@mcp.tool()
def evaluate(expression: str) -> float:
    """Evaluate an arithmetic expression: numbers, + - * / **, unary minus and parentheses only."""
    if len(expression) > _MAX_EXPRESSION:
        raise ToolError(f"expression longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"invalid expression: {exc.msg}") from exc
    try:
        return _eval(tree)
    except OverflowError as exc:  # e.g. 9.0 ** 999
        raise ToolError("result too large") from exc
    except ZeroDivisionError as exc:  # e.g. 0 ** -1
        raise ToolError("division by zero") from exc


if __name__ == "__main__":
    mcp.run("stdio")
