"""Benchmark on real data: cache speed-up, pipeline vs. backbone throughput, memory, study wall time, evaluate.

It sits at the roof because it measures rooms on several floors (search's studies, predict's evaluate).

Needs a manifest of real data (`make data DATA=...` or --data here). Writes bench/results.json after every step;
`--quick` runs a small version (fewer images and trials) to check the benchmark itself works.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="folder holding the datasets; (re)builds the manifest from it first")
    parser.add_argument("--manifest", default="build/splits.csv", help="split manifest (default: build/splits.csv)")
    parser.add_argument("--image-size", type=int, default=128, help="MobileNetV2 input size (default: 128)")
    parser.add_argument("--out", default="bench/results.json", help="where to write the results")
    parser.add_argument("--runs", default="build/bench-runs", help="results folder for the benchmark's studies")
    parser.add_argument("--cache-dir", default="build/features", help="feature cache folder")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per trial in the study benchmarks")
    parser.add_argument("--trunk-epochs", type=int, default=4,
                        help="epochs per trial in the cached-trunk fine-tune study (default: 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the benchmark, not the targets")
    parser.add_argument("--only", help="comma list of benchmarks to (re)run, merged into --out: cache_speedup, "
                                       "pipeline_vs_backbone, study_cold, study_warm, trunk_speedup, study_trunk, "
                                       "best_model, evaluate_throughput (needs a study's run)")


def run(args: argparse.Namespace) -> int:
    from deepfake_zoo.search.bench import run_bench
    from deepfake_zoo.search.config import SearchConfig

    if args.data:
        from deepfake_zoo.datasets.manifest import build_manifest

        build_manifest(args.data, args.manifest, seed=args.seed)
    config = SearchConfig(model="mobilenet_v2_frozen", manifest=args.manifest, runs=args.runs,
                          cache_dir=args.cache_dir, image_size=args.image_size, epochs=args.epochs,
                          seed=args.seed, weights="imagenet").validate()
    only = [name.strip() for name in args.only.split(",")] if args.only else None
    from deepfake_zoo.search.bench import summary_table

    from deepfake_zoo.predict.bench_evaluate import bench_evaluate_throughput

    evaluate_step = ("evaluate_throughput", lambda: bench_evaluate_throughput(
        config.manifest, config.runs, n=500 if args.quick else 5000, seed=config.seed))
    print(summary_table(run_bench(config, args.out, quick=args.quick, only=only, extra_steps=[evaluate_step],
                                  trunk_epochs=args.trunk_epochs)))
    return 0
