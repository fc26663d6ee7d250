"""Small symbolic tools the verifications share: zero tests and sign certificates.

- :func:`vanishes`: an expression is identically zero (``cancel`` of the combined fraction,
  then ``simplify`` with ``expand_func`` for exponentials, logs and polylogarithms).
- :func:`sign_certificate`: a rational function of *positive* symbols is ``>= 0``: each factor
  of its numerator and denominator (``factor_list``) is a polynomial whose coefficients all
  have one sign (or appears to an even power).  A polynomial with non-negative coefficients is
  non-negative on the positive orthant, so the certificate is a proof, not a sample.
  Constraints such as ``0 < x < 1`` are turned into positivity first by substitutions like
  ``x = 1/(1+y)``, ``y > 0`` (done by the callers, and said in their ``detail``).
"""

from __future__ import annotations

import sympy as sp

__all__ = ["vanishes", "sign_certificate", "positive_symbols"]


def positive_symbols(names):
    """``sympy.symbols(names, positive=True)`` as a tuple."""
    out = sp.symbols(names, positive=True)
    return out if isinstance(out, tuple) else (out,)


def vanishes(expr):
    """True iff ``expr`` simplifies to exactly 0 (rational-function cancellation first, then
    ``simplify(expand_func(.))``)."""
    expr = sp.sympify(expr)
    if sp.cancel(sp.together(expr)) == 0:
        return True
    return sp.simplify(sp.expand_func(expr)) == 0


def _polynomial_sign(poly_expr, symbols):
    """+1 / -1 if all coefficients are >= 0 / <= 0 (not all zero), else None."""
    coeffs = sp.Poly(poly_expr, *symbols).coeffs() if symbols else [poly_expr]
    if all(c >= 0 for c in coeffs):
        return 1
    if all(c <= 0 for c in coeffs):
        return -1
    return None


def sign_certificate(expr):
    """``(True, text)`` if ``expr >= 0`` is certified on the positive orthant of its symbols,
    else ``(False, text)`` saying which factor has no sign.  All free symbols must be declared
    positive."""
    expr = sp.sympify(expr)
    bad = [s for s in expr.free_symbols if not s.is_positive]
    if bad:
        return False, f"symbols not declared positive: {sorted(map(str, bad))}"
    symbols = sorted(expr.free_symbols, key=str)
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    if num == 0:
        return True, "expression is identically 0"
    sign = 1
    factors = []
    for part, power_sign in ((num, 1), (den, -1)):
        const, facs = sp.factor_list(sp.expand(part), *symbols) if symbols else (part, [])
        if const == 0:
            return False, "zero denominator"
        sign *= 1 if const > 0 else -1
        for fac, mult in facs:
            s = _polynomial_sign(fac, symbols)
            if s is None and mult % 2:
                return False, f"factor {fac} has coefficients of both signs"
            if s is None:
                s = 1
            sign *= s ** mult
            factors.append(f"({fac})^{mult}" if mult != 1 else f"({fac})")
    if sign < 0:
        return False, f"expression is <= 0 on the positive orthant: {sp.factor(expr)}"
    return True, ("factors with one-signed coefficients: " + " * ".join(factors)
                  if factors else "positive constant")
