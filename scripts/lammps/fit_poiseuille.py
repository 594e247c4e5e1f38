#!/usr/bin/env python3
"""Shear viscosity from a reverse (periodic) Poiseuille profile written by shared/lammps/poiseuille.in.

Reads the fix ave/chunk file (blocks of: "Timestep Nchunks TotalCount" then per bin
"Chunk Coord1 Ncount vx density/number"), fits v = c0 + c1 z + c2 z^2 to each half of the box
(lower: bin centres z < Lz/2, upper: z >= Lz/2), eta_half = rho*g / (2|c2|), block eta = mean of both halves.
Prints eta per block, mean and standard error over blocks, the same with the bins within `--gap`
of the force-reversal planes (z = 0, Lz/2, Lz) left out, the peak |v|, the mean density and the
block-averaged profile.  Standard library only (numpy is not needed).

Usage: fit_poiseuille.py PROFILE --rho 3 --g 0.02 --Lz 20 [--tag std] [--gap 1.0] [--no-profile]
"""
import argparse
import math
import sys


def read_blocks(path):
    blocks, cur = [], None
    with open(path) as f:
        for line in f:
            t = line.split()
            if not t or t[0].startswith("#"):
                continue
            if len(t) == 3:  # block header
                cur = {"step": int(t[0]), "z": [], "n": [], "vx": [], "rho": []}
                blocks.append(cur)
            else:
                cur["z"].append(float(t[1]))
                cur["n"].append(float(t[2]))
                cur["vx"].append(float(t[3]))
                cur["rho"].append(float(t[4]))
    return blocks


def solve3(m, r):
    """Gaussian elimination with partial pivoting for a 3x3 system."""
    a = [row[:] + [ri] for row, ri in zip(m, r)]
    for c in range(3):
        p = max(range(c, 3), key=lambda i: abs(a[i][c]))
        a[c], a[p] = a[p], a[c]
        for i in range(c + 1, 3):
            f = a[i][c] / a[c][c]
            for j in range(c, 4):
                a[i][j] -= f * a[c][j]
    x = [0.0] * 3
    for i in (2, 1, 0):
        x[i] = (a[i][3] - sum(a[i][j] * x[j] for j in range(i + 1, 3))) / a[i][i]
    return x


def quad_coeff(z, v):
    """Least-squares c2 of v = c0 + c1 z + c2 z^2 (z centred for conditioning; c2 is unchanged by the shift)."""
    zm = sum(z) / len(z)
    s = [x - zm for x in z]
    pw = [sum(x ** k for x in s) for k in range(5)]
    m = [[pw[i + j] for j in range(3)] for i in range(3)]
    r = [sum(vi * x ** k for x, vi in zip(s, v)) for k in range(3)]
    return solve3(m, r)[2]


def block_eta(z, v, rho, g, lz, gap):
    h = lz / 2.0
    planes = (0.0, h, lz)
    keep = lambda zi: all(abs(zi - p) >= gap for p in planes)
    lo = [(zi, vi) for zi, vi in zip(z, v) if zi < h and keep(zi)]
    up = [(zi, vi) for zi, vi in zip(z, v) if zi >= h and keep(zi)]
    etas = []
    for half in (lo, up):
        c2 = quad_coeff([p[0] for p in half], [p[1] for p in half])
        etas.append(rho * g / (2.0 * abs(c2)))
    return etas  # [lower, upper]


def mean_se(x):
    n = len(x)
    m = sum(x) / n
    if n < 2:
        return m, float("nan")
    var = sum((xi - m) ** 2 for xi in x) / (n - 1)
    return m, math.sqrt(var / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("--rho", type=float, required=True, help="nominal number density (enters eta = rho g / 2|c2|)")
    ap.add_argument("--g", type=float, required=True)
    ap.add_argument("--Lz", type=float, required=True)
    ap.add_argument("--tag", default="run")
    ap.add_argument("--gap", type=float, default=1.0, help="exclusion distance from the reversal planes")
    ap.add_argument("--no-profile", action="store_true")
    a = ap.parse_args()

    blocks = read_blocks(a.profile)
    if not blocks:
        sys.exit(f"no blocks in {a.profile}")
    tag = a.tag
    full, excl = [], []
    print(f"== {tag}: {a.profile}  rho={a.rho} g={a.g} Lz={a.Lz}  blocks={len(blocks)} bins={len(blocks[0]['z'])}")
    for i, b in enumerate(blocks):
        ef = block_eta(b["z"], b["vx"], a.rho, a.g, a.Lz, 0.0)
        ex = block_eta(b["z"], b["vx"], a.rho, a.g, a.Lz, a.gap)
        full.append(0.5 * (ef[0] + ef[1]))
        excl.append(0.5 * (ex[0] + ex[1]))
        print(f"{tag} block {i + 1} step {b['step']:6d}: eta lower {ef[0]:.4f} upper {ef[1]:.4f} mean {full[-1]:.4f}"
              f" | excl {a.gap:g}: lower {ex[0]:.4f} upper {ex[1]:.4f} mean {excl[-1]:.4f}"
              f" | max|vx| {max(abs(v) for v in b['vx']):.4f}")
    m, se = mean_se(full)
    mx, sex = mean_se(excl)
    nb, nz = len(blocks), len(blocks[0]["z"])
    z = blocks[0]["z"]
    vbar = [sum(b["vx"][k] for b in blocks) / nb for k in range(nz)]
    rbar = [sum(b["rho"][k] for b in blocks) / nb for k in range(nz)]
    eavg = block_eta(z, vbar, a.rho, a.g, a.Lz, 0.0)
    print(f"ETA {tag} eta={m:.4f} se={se:.4f} (n={nb})  eta_excl{a.gap:g}={mx:.4f} se={sex:.4f}"
          f"  eta_of_mean_profile={0.5 * (eavg[0] + eavg[1]):.4f}"
          f"  peak|vx|={max(abs(v) for v in vbar):.4f}  mean_density={sum(rbar) / nz:.4f}")
    if not a.no_profile:
        print(f"PROFILE {tag} (block-averaged)  z  vx  density")
        for zi, vi, ri in zip(z, vbar, rbar):
            print(f"  {zi:6.2f} {vi:+.5f} {ri:.4f}")


if __name__ == "__main__":
    main()
