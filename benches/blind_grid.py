#!/usr/bin/env python3
"""One numbered, shuffled grid of two runs' shots, for a blind count by eye.

The equal-time comparisons (docs/quality-experiments.md) count recognisable products among
80 shots of each run without the counter knowing which run drew which shot. This script
copies the shots of both folders into OUT/001.png ... in a seeded random order, writes the
key (number, folder, file) to KEY, and draws OUT.png: a 16-column grid, each shot enlarged
to 96 px (nearest) and labelled with its number. Show the reviewer OUT.png only; read KEY
after the count.

  python3 benches/blind_grid.py --seed 1 --key /tmp/key-1.txt --out /tmp/blind-1 shots-a shots-b

Needs ImageMagick's `montage`.
"""
import argparse
import os
import random
import shutil
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('folders', nargs='+', help='folders of PNG shots (one per run)')
    ap.add_argument('--seed', type=int, required=True, help='seed of the shuffle')
    ap.add_argument('--key', required=True, help='where to write the key (keep it from the reviewer)')
    ap.add_argument('--out', required=True, help='folder of numbered copies; the grid is OUT.png')
    a = ap.parse_args()
    shots = [(d, f) for d in a.folders for f in sorted(os.listdir(d)) if f.endswith('.png')]
    random.Random(a.seed * 7919 + 12345).shuffle(shots)
    os.makedirs(a.out, exist_ok=True)
    names, key = [], []
    for i, (folder, file) in enumerate(shots, 1):
        name = os.path.join(a.out, f'{i:03d}.png')
        shutil.copy(os.path.join(folder, file), name)
        names.append(name)
        key.append(f'{i:03d} {folder} {file}')
    with open(a.key, 'w') as f:
        f.write('\n'.join(key) + '\n')
    subprocess.run(['montage', '-label', '%t', '-pointsize', '11', *names, '-tile', '16x',
                    '-geometry', '96x96+2+2', '-filter', 'point', a.out.rstrip('/') + '.png'],
                   check=True)


if __name__ == '__main__':
    main()
