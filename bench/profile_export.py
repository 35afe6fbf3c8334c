"""Where the export command spends its time (py-spy over `flask --app app export`).

Not part of run_all.py. Runs the same command bench/export.py measures, on the bench25
database of the given size, under `py-spy record --format raw`, and summarizes the stacks like
bench/profile_http.py does (inclusive and self share of the samples per function).

    .venv/bin/pip install py-spy        # diagnostic tool, not in requirements
    .venv/bin/python bench/profile_export.py [--size 100000]
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import export  # noqa: E402
from profile_http import PY_SPY, aggregate  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--backend", default="tinydb", choices=("tinydb", "postgresql"))
    parser.add_argument("--form", default=export.FORM_ID, help="bench form (default %(default)s)")
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if not os.path.exists(PY_SPY):
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    deployment, _manifest = export.build_export_base(args.size, form_id=args.form,
                                                     backend=args.backend)
    out_dir = os.path.join(common.OUT, "profile")
    os.makedirs(out_dir, exist_ok=True)
    raw = os.path.join(out_dir, f"export-{args.backend}-{args.form}-n{args.size}.txt")
    xlsx = os.path.join(out_dir, f"export-{args.backend}-n{args.size}.xlsx")
    subprocess.run([PY_SPY, "record", "--format", "raw", "--output", raw, "--rate",
                    str(args.rate), "--", common.PY, "-m", "flask", "--app", "app", "export",
                    args.form, xlsx], cwd=common.ROOT, env=deployment.env(),
                   check=True, timeout=export.TIME_LIMIT_S, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    os.unlink(xlsx)
    total, inclusive, self_time = aggregate([raw])
    print(f"flask export {args.form} at n{args.size} ({args.backend}): {total} samples at "
          f"{args.rate}/s")
    print(f"\n{'incl %':>7} {'self %':>7}  function (file)")
    for name, count in inclusive.most_common(args.top):
        print(f"{100 * count / total:>7.1f} {100 * self_time[name] / total:>7.1f}  {name}")
    print("\ntop self time:")
    for name, count in self_time.most_common(20):
        print(f"{100 * count / total:>7.1f}  {name}")
    print(f"\nraw stacks: {os.path.relpath(raw, common.ROOT)}")


if __name__ == "__main__":
    main()
