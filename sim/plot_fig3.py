#!/usr/bin/python3
"""Draw the paper's Fig. 3 from renewal-sim's CSV: one boxplot panel per policy (top: renewal at
expiry, bottom: random backoff), one box per amount of services, traffic per second over the
seconds with traffic. The boxes are renewal-sim's own statistics (drawn with Axes.bxp); the
outliers shown are its sample of distinct outlier values.

  renewal-sim --csv fig3.csv
  /usr/bin/python3 sim/plot_fig3.py fig3.csv -o docs/fig3.png

Run it with Debian's /usr/bin/python3 (python3-matplotlib).
"""

import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TITLES = {
    "at-expiry": "renewal at expiry (no backoff)",
    "paper-backoff": "random backoff (B = 25 % of the lifetime)",
}


def read(path):
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["policy"], []).append(row)
    for policy in rows:
        rows[policy].sort(key=lambda r: int(r["services"]))
    return rows


def box(row, scale):
    sample = [float(v) / scale for v in row["outlier_sample"].split(";") if v]
    return {
        "label": row["services"],
        "med": float(row["median"]) / scale,
        "q1": float(row["q1"]) / scale,
        "q3": float(row["q3"]) / scale,
        "whislo": float(row["whisker_low"]) / scale,
        "whishi": float(row["whisker_high"]) / scale,
        "mean": float(row["mean"]) / scale,
        "fliers": sample,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", help="renewal-sim --csv output")
    parser.add_argument("-o", "--out", default="fig3.png", help="image to write (png, pdf, svg)")
    parser.add_argument("--policies", default="at-expiry,paper-backoff",
                        help="comma-separated policies, one panel each, top to bottom")
    parser.add_argument("--log", action="store_true", help="logarithmic y axes")
    parser.add_argument("--dpi", type=int, default=110)
    parser.add_argument("--line", type=float, default=2.5,
                        help="draw a reference line at this many KB/s (the paper's 2.5)")
    args = parser.parse_args()

    rows = read(args.csv)
    policies = [p for p in args.policies.split(",") if p]
    missing = [p for p in policies if p not in rows]
    if missing:
        sys.exit("plot_fig3: no rows for " + ", ".join(missing) + " in " + args.csv)

    scale = 1000.0  # KB/s
    fig, axes = plt.subplots(len(policies), 1, figsize=(9, 3.4 * len(policies)), squeeze=False)
    for ax, policy in zip(axes[:, 0], policies):
        stats = [box(r, scale) for r in rows[policy]]
        ax.bxp(stats, showfliers=True, showmeans=False,
               flierprops={"marker": "o", "markersize": 2.5, "alpha": 0.5},
               medianprops={"color": "tab:red"})
        if args.line > 0:
            ax.axhline(args.line, color="tab:green", linestyle="--", linewidth=0.8,
                       label=f"{args.line:g} KB/s")
            ax.legend(loc="upper left", fontsize=8)
        if args.log:
            ax.set_yscale("log")
        r0 = rows[policy][0]
        ax.set_title(f"{TITLES.get(policy, policy)}: {r0['runs']} runs x {r0['duration_s']} s",
                     fontsize=10)
        ax.set_ylabel("traffic per second [KB/s]")
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xlabel("total amount of services")
    fig.tight_layout()
    fig.savefig(args.out, dpi=args.dpi)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
