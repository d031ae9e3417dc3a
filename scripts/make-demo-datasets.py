#!/usr/bin/env python3
"""Writes Lethe's demo datasets to resources/datasets/ from the real data shipped by scikit-learn.

Uses only Debian's python3-sklearn (and the numpy it depends on) from /usr/lib/python3/dist-packages.
That folder goes first on sys.path so that an interpreter with its own, binary-incompatible numpy
(pyenv, a virtualenv) still loads the Debian pair that sklearn was built against.

    python3 scripts/make-demo-datasets.py

The output is deterministic: rerunning it rewrites byte-identical files.

The subject ids are generated, not real: the source data carries no identities, so the script
assigns made-up ids with a seeded shuffle to give the right-to-be-forgotten workflow something to
forget. See resources/datasets/LICENSE.md.
"""

import csv
import os
import random
import sys

DEBIAN_PACKAGES = '/usr/lib/python3/dist-packages'
sys.path.insert(0, DEBIAN_PACKAGES)

from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'resources', 'datasets')

# Fixed seeds: the demo files must not change between runs or machines.
BREAST_CANCER_SEED = 569
DIGITS_SEED = 1797
DIGIT_WRITERS = 180


def number(value):
    """Shortest text that reads back as the same float64; whole numbers without a trailing '.0'."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def write_csv(name, header, rows):
    path = os.path.join(OUT, name)
    # newline='' and lineterminator='\n': the csv module must not add '\r' on any platform.
    with open(path, 'w', newline='', encoding='utf-8') as handle:
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(header)
        writer.writerows(rows)
    print(f'wrote {os.path.relpath(path)}: {len(rows)} rows x {len(header)} columns')


def breast_cancer():
    data = load_breast_cancer()
    n = len(data.target)
    # One made-up patient per row: P-0001 ... P-0569, handed out in a seeded random order so that
    # the id says nothing about the row's position or its diagnosis.
    ids = [f'P-{k:04d}' for k in range(1, n + 1)]
    random.Random(BREAST_CANCER_SEED).shuffle(ids)
    header = ['patient_id'] + [f.replace(' ', '_') for f in data.feature_names] + ['diagnosis']
    rows = [
        [ids[i]] + [number(v) for v in data.data[i]] + [str(data.target_names[data.target[i]])]
        for i in range(n)
    ]
    write_csv('breast-cancer.csv', header, rows)


def digits():
    data = load_digits()
    n = len(data.target)
    # Made-up writers, each of whom wrote about ten of the digits: shuffle the row order, then deal
    # the rows round-robin to W-001 ... W-180. Forgetting one writer removes several rows (9 or 10).
    order = list(range(n))
    random.Random(DIGITS_SEED).shuffle(order)
    writer_of = [''] * n
    for position, row in enumerate(order):
        writer_of[row] = f'W-{position % DIGIT_WRITERS + 1:03d}'
    header = ['subject_id'] + [f'pixel_{k}' for k in range(data.data.shape[1])] + ['digit']
    rows = [[writer_of[i]] + [number(v) for v in data.data[i]] + [str(int(data.target[i]))] for i in range(n)]
    write_csv('digits.csv', header, rows)


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    breast_cancer()
    digits()
