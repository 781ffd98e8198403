"""Small synthetic tables in the shapes examples/tabular reads, written to tests/references/tabular/:

- cancer_like.csv: scikit-learn's breast_cancer.csv layout: a count line "200,30,malignant,benign", then 30
  feature columns and a 0/1 class per row (two Gaussian clusters, so the example learns something);
- diabetes_like_data.csv.gz, diabetes_like_target.csv.gz: diabetes_data_raw.csv.gz's layout: 10
  space-separated columns, gzipped, and the targets one per line in numpy's %.18e format in a second file;
- insurance_like.csv: the regression tutorial's CSV: a header, text columns (sex, smoker, region) to one-hot,
  an income column with NA cells to fill with the median, and the target "charges".

Deterministic (seeded numpy, gzip mtime 0), so rerunning rewrites identical files:
    /usr/bin/python3 tools/references/tabular_files.py
"""
import gzip
import io
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "references", "tabular")


def write_gz(path, text):
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(text.encode())


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(22)
    n = 200
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 1, (n, 30)) + y[:, None] * rng.normal(0.8, 0.3, 30) + rng.uniform(1, 20, 30)
    lines = ["200,30,malignant,benign"] + [",".join(f"{v:.5g}" for v in row) + f",{c}" for row, c in zip(x, y)]
    with open(os.path.join(OUT, "cancer_like.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")

    n = 150
    age = rng.integers(19, 80, n)
    sex = rng.integers(1, 3, n)
    rest = rng.normal(0, 1, (n, 8)) * [4, 15, 40, 30, 10, 1, 0.5, 10] + [26, 94, 189, 115, 50, 4, 4.6, 91]
    target = 150 + 0.8 * (rest[:, 0] - 26) * 10 + 3 * (age - 48) + rng.normal(0, 25, n)
    buf = io.StringIO()
    for a, s, r in zip(age, sex, rest):
        buf.write(" ".join([str(a), str(s)] + [f"{v:.4g}" for v in r]) + "\n")
    write_gz(os.path.join(OUT, "diabetes_like_data.csv.gz"), buf.getvalue())
    write_gz(os.path.join(OUT, "diabetes_like_target.csv.gz"), "".join(f"{t:.18e}\n" for t in target))

    n = 160
    rows = ["age,sex,bmi,children,smoker,region,income,charges"]
    regions = ["northeast", "northwest", "southeast", "southwest"]
    for i in range(n):
        age, bmi, children = rng.integers(18, 65), rng.normal(30, 6), rng.integers(0, 5)
        sex, smoker, region = rng.choice(["female", "male"]), rng.choice(["no", "yes"], p=[0.8, 0.2]), rng.choice(regions)
        income = rng.normal(50, 15)
        charges = 2000 + 250 * age + 300 * (bmi - 30) + 500 * children + (20000 if smoker == "yes" else 0) \
            + rng.normal(0, 2000)
        rows.append(f"{age},{sex},{bmi:.2f},{children},{smoker},{region},"
                    f"{'NA' if i % 9 == 4 else f'{income:.1f}'},{charges:.2f}")
    with open(os.path.join(OUT, "insurance_like.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
