"""How accurate a Taylor expansion of a target tile's Laplace-kernel sum is, and what a certified
(Cauchy-estimate) bound of its remainder gives: the numbers behind the far-field plan for issue 17
(the pruned two-axis drift at 262 144 and 1 048 576 points). Not a test; an analysis script.

    python3 benches/baselines/far_field_taylor.py     # needs mpmath (pip install mpmath)

For a tile of n uniform points in a square of side s (centre c) and a query x at distance d,
the order-p Taylor polynomial of sum_j exp(-|x - y_j|/tau) around c equals sum_j of the 1D
Taylor polynomials at t = 1 of g_j(t) = exp(-|x - c - t (y_j - c)|/tau). Printed: the largest
measured relative error over six random tiles and directions, and, for one tile, the measured
error against the bound sum_j M_j r^-(p+1) / (1 - 1/r) (M_j = max |g_j| on the circle |t| = r,
r below the radicand's zero, best r of a grid), relative to the exact sum; and against a
real-variable bound of the Lagrange remainder (`real_majorant`), also relative to the weight the
pruned sweep's budget gives the tile (`n exp(-d_box/tau)`): the share of a skipped tile's weight
that approximating it instead would cost. Takes a few minutes.
"""
import cmath
import math
import random

import mpmath as mp

mp.mp.dps = 30
TAU = 0.05


def tile(rnd, n, side):
    return [(rnd.uniform(-side / 2, side / 2), rnd.uniform(-side / 2, side / 2)) for _ in range(n)]


def g_of(x, a, b):
    return lambda t: mp.e ** (-mp.sqrt((x[0] - t * a) ** 2 + (x[1] - t * b) ** 2) / TAU)


def measured(n, side, d, p, trials=6):
    rnd = random.Random(1)
    worst = 0.0
    for _ in range(trials):
        pts = tile(rnd, n, side)
        angle = rnd.uniform(0, 2 * math.pi)
        x = (d * math.cos(angle), d * math.sin(angle))
        exact = approx = mp.mpf(0)
        for a, b in pts:
            g = g_of(x, a, b)
            approx += sum(mp.taylor(g, 0, p))
            exact += g(1)
        worst = max(worst, float(abs(approx - exact) / exact))
    return worst


def largest_on_circle(x, a, b, r, samples=256):
    m = 0.0
    for k in range(samples):
        t = r * cmath.exp(2j * math.pi * k / samples)
        rho = cmath.sqrt((x[0] - t * a) ** 2 + (x[1] - t * b) ** 2)
        m = max(m, math.exp(-rho.real / TAU))
    return m


def bounded(n, side, d, p, point_bound):
    """One tile (seed 2) and the query (d, 0.3 side): the exact sum, the order-p expansion's
    relative error, and the sum over the tile's points of point_bound(x, a, b) (a remainder bound
    per point, (a, b) its offset from the centre)."""
    rnd = random.Random(2)
    pts = tile(rnd, n, side)
    x = (d, 0.3 * side)
    exact = approx = mp.mpf(0)
    bound = 0.0
    for a, b in pts:
        g = g_of(x, a, b)
        approx += sum(mp.taylor(g, 0, p))
        exact += g(1)
        bound += point_bound(x, a, b)
    return float(exact), float(abs(approx - exact) / exact), bound, x


def certified(n, side, d, p):
    def cauchy(x, a, b):
        r_max = 0.95 * math.hypot(*x) / max(math.hypot(a, b), 1e-12)
        radii = [r for r in (1.1, 1.3, 1.6, 2.0, 2.5, 3.0, 4.0, 6.0) if r < r_max]
        return min((largest_on_circle(x, a, b, r) * r ** -(p + 1) / (1 - 1 / r) for r in radii),
                   default=float("inf"))

    exact, error, bound, _ = bounded(n, side, d, p, cauchy)
    return error, bound / exact


def majorant_coefficient(n, rho):
    """[s^n] exp(s + s^2/(2 rho) + 2 s^3/(rho^2 (1 - s/rho))): with |phi'| <= 1, phi'' <= 1/rho and
    |phi^(k)|/k! <= 2/rho^(k-1) (Cauchy on the disc of radius rho, the distance to the branch points
    of phi(u) = sqrt(u^2 + b^2)), n! times it bounds the complete Bell polynomial of the derivatives,
    so |d^n/du^n exp(-phi)| <= n! c_n(rho) exp(-phi) where rho is the smallest phi on the segment."""
    f = lambda t: mp.e ** (t + t * t / (2 * rho) + 2 * t ** 3 / (rho * rho * (1 - t / rho)))
    return float(mp.taylor(f, 0, n)[n])


def segment_distance(x, a, b):
    """Distance from x to the segment from the tile's centre (0, 0) to (a, b)."""
    length2 = a * a + b * b
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, (x[0] * a + x[1] * b) / length2))
    return math.hypot(x[0] - t * a, x[1] - t * b)


def real_majorant(n, side, d, p):
    """Measured error, the real-variable bound sum_j (|delta_j|/tau)^(p+1) c_(p+1)(rho_j/tau)
    exp(-rho_j/tau) (Lagrange remainder along each segment, rho_j the distance from x to it), both
    relative to the exact sum, and the bound relative to n exp(-d_box/tau), the weight the pruned
    sweep's budget gives the tile (d_box: distance from x to the tile's box)."""
    def lagrange(x, a, b):
        rho = segment_distance(x, a, b) / TAU
        return (math.hypot(a, b) / TAU) ** (p + 1) * majorant_coefficient(p + 1, rho) * math.exp(-rho)

    exact, error, bound, x = bounded(n, side, d, p, lagrange)
    box = math.hypot(max(0.0, abs(x[0]) - side / 2), max(0.0, abs(x[1]) - side / 2))
    weight = n * math.exp(-box / TAU)
    return error, bound / exact, bound / weight


def main():
    print("measured relative error (largest of six tiles and directions)")
    for n, density in [(64, 4096), (16, 4096), (64, 16384)]:
        side = math.sqrt(n / density)
        for d in (5 * TAU, 7 * TAU):
            row = ", ".join(f"p={p}: {measured(n, side, d, p):.1e}" for p in (2, 3, 4, 6))
            print(f"  {n} points, side {side / TAU:.2f} tau, query at {d / TAU:.0f} tau: {row}")
    print("measured against the Cauchy bound (one tile)")
    for n, density in [(64, 4096), (64, 16384)]:
        side = math.sqrt(n / density)
        for d in (5 * TAU, 7 * TAU):
            for p in (2, 4, 6):
                e, b = certified(n, side, d, p)
                print(f"  {n} points, side {side / TAU:.2f} tau, query at {d / TAU:.0f} tau, p={p}: "
                      f"measured {e:.1e}, bound {b:.1e}")
    print("measured against the real-variable majorant (one tile): relative to the exact sum, "
          "and to the tile's weight n exp(-d_box/tau) in the pruning budget")
    for n, density in [(64, 4096), (16, 4096), (64, 16384), (8, 4096)]:
        side = math.sqrt(n / density)
        for d in (5 * TAU, 7 * TAU, 9 * TAU):
            for p in (2, 4, 6, 8):
                e, b, q = real_majorant(n, side, d, p)
                print(f"  {n} points, side {side / TAU:.2f} tau, query at {d / TAU:.0f} tau, p={p}: "
                      f"measured {e:.1e}, bound {b:.1e}, bound / budget weight {q:.1e}")


if __name__ == "__main__":
    main()
