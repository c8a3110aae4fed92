"""`make bench`: our recognizer against a general OCR peer (RapidOCR) and tesseract.

Each pipeline runs in its own subprocess (a runner in ``training/peers/``, peers from their own
interpreter) so that its peak RSS is its own; the runner warms up, then times one end-to-end pass
from file path to bibs. Scores on the rbnr_dev validation split: image-level P/R/F1 (sets of exact
numbers per photo) and box+number P/R/F1 at IoU 0.5. A second run times our recognizer on
synthetic 24 MP JPEGs with 1 thread x 2 workers and 2 threads x 1 worker. Writes
``OUT/bench.md``, ``OUT/bench.json`` and ``OUT/predictions/*.json``; prints the table.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.evaluation import PRF, f1_interval, image_counts, match_boxes
from training.peers.peer_common import median_pass

REPO = Path(__file__).resolve().parents[1]
PEERS = Path(__file__).resolve().parent / "peers"
NOT_INSTALLED = "not installed"
IOU_THRESHOLD = 0.5


# --------------------------------------------------------------------------- scoring
# The definitions are the app's own (`bibtagger eval`): core.evaluation.

SCORER = "bibtagger_gui.core.evaluation"


def box_counts(truth: list[Bib], pred: list[Bib], threshold: float = IOU_THRESHOLD) -> PRF:
    """Box+number counts of one photo (core.evaluation.match_boxes)."""
    tp, fp, fn, _ = match_boxes(truth, pred, threshold)
    return PRF(tp, fp, fn)


def score(truth: dict[str, list[Bib]], pred: dict[str, list[Bib]]) -> dict:
    """Image-level and box+number counts/P/R/F1 over the photos of `truth` (missing predictions = none)."""
    img, box, per_photo = PRF(), PRF(), []
    for key, bibs in truth.items():
        got = pred.get(key, [])
        per_photo.append(image_counts(bibs, got))
        for total, part in ((img, per_photo[-1]), (box, box_counts(bibs, got))):
            total.add(part.tp, part.fp, part.fn)
    ci = [round(v, 4) for v in f1_interval(per_photo)]
    return {"image": {**img.to_json(), "f1_ci95": ci}, "box": box.to_json()}


# --------------------------------------------------------------------------- pipelines

@dataclass
class Pipeline:
    """A runner script and the interpreter that runs it; `missing` says why it cannot run (or None)."""

    name: str
    python: Path
    runner: Path
    job: dict
    missing: str | None = None


def ours_pipeline(models: Path, threads: int | None = None, workers: int = 1, name: str = "bibtagger") -> Pipeline:
    missing = None
    if not (models / "detector.onnx").is_file() or not (models / "reader.onnx").is_file():
        missing = f"models missing in {models}"
    return Pipeline(name, Path(sys.executable), PEERS / "ours_runner.py",
                    {"models": str(models), "threads": threads, "workers": workers}, missing)


def rapidocr_pipeline(python: Path) -> Pipeline:
    missing = None
    if not Path(python).is_file():
        missing = NOT_INSTALLED
    else:
        probe = subprocess.run([str(python), "-c", "import rapidocr, onnxruntime"], capture_output=True)
        if probe.returncode != 0:
            missing = NOT_INSTALLED
    return Pipeline("rapidocr", Path(python), PEERS / "rapidocr_runner.py", {}, missing)


def tesseract_pipeline(binary: str = "tesseract") -> Pipeline:
    return Pipeline("tesseract", Path(sys.executable), PEERS / "tesseract_runner.py", {"tesseract": binary},
                    None if shutil.which(binary) else NOT_INSTALLED)


def run_pipeline(pipe: Pipeline, images: list[Path], workdir: Path, warmup: int = 2, timeout: float = 3600,
                 passes: int = 1) -> dict:
    """Run one pipeline's runner over `images`; returns its result dict (status ok | failed | not installed)."""
    if pipe.missing:
        return {"name": pipe.name, "status": pipe.missing}
    workdir.mkdir(parents=True, exist_ok=True)
    job_path, result_path = workdir / f"{pipe.name}.job.json", workdir / f"{pipe.name}.result.json"
    job = {**pipe.job, "images": [str(p) for p in images], "warmup": warmup, "passes": passes}
    job.setdefault("workers", 1)
    job_path.write_text(json.dumps(job), encoding="utf-8")
    result_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        proc = subprocess.run([str(pipe.python), str(pipe.runner), str(job_path), str(result_path)],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=str(workdir))
    except subprocess.TimeoutExpired:
        return {"name": pipe.name, "status": "failed", "error": f"timed out after {timeout:.0f} s"}
    if not result_path.is_file():
        return {"name": pipe.name, "status": "failed", "error": (proc.stderr or proc.stdout).strip()[-500:]}
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["name"] = pipe.name
    if result.get("status") == "ok" and result.get("seconds"):
        result["photos_per_s"] = _photos_per_s(result)
    return result


def _photos_per_s(result: dict) -> float:
    return round(result["photos"] / result["seconds"], 3)


def run_rounds(pipes: list[Pipeline], images: list[Path], workdir: Path, rounds: int = 1, **kwargs) -> list[dict]:
    """Run every pipeline ``rounds`` times, alternating (A B C, A B C, ...), so that a change in the
    host's load during the benchmark falls on all of them alike; one merged result per pipeline.

    A pipeline that is not installed or fails is not run again. The merged result keeps the first
    round's predictions (``predictions_stable`` says whether every round predicted the same) and its
    ``seconds`` is the median over every timed pass of every round; ``round_photos_per_s`` keeps
    each round's photos/s and ``peak_rss_mb`` is the largest.
    """
    runs: dict[str, list[dict]] = {p.name: [] for p in pipes}
    rounds = max(1, rounds)  # like the runners' passes: at least one
    for r in range(rounds):
        for pipe in pipes:
            done = runs[pipe.name]
            if done and done[0].get("status") != "ok":
                continue
            print(f"[bench] {pipe.name}: {len(images)} photos (round {r + 1}/{rounds}) ...", file=sys.stderr, flush=True)
            done.append(run_pipeline(pipe, images, workdir, **kwargs))
    return [merge_rounds(runs[p.name]) for p in pipes]


def merge_rounds(results: list[dict]) -> dict:
    """One result from a pipeline's rounds (see ``run_rounds``)."""
    ok = [r for r in results if r.get("status") == "ok"]
    if len(ok) != len(results) or not ok:
        return next(r for r in results if r.get("status") != "ok")
    merged = dict(ok[0])
    times = [t for r in ok for t in r.get("pass_seconds", [r["seconds"]])]
    merged["pass_seconds"] = times
    merged["seconds"] = median_pass(times)
    merged["photos_per_s"] = _photos_per_s(merged)
    merged["rounds"] = len(ok)
    merged["round_photos_per_s"] = [r["photos_per_s"] for r in ok]
    merged["peak_rss_mb"] = max(r.get("peak_rss_mb", 0) for r in ok)
    merged["predictions_stable"] = all(r.get("predictions") == ok[0].get("predictions") for r in ok)
    return merged


def speed_ratio(results: list[dict], ours: str = "bibtagger", peer: str = "rapidocr") -> dict | None:
    """photos/s of ``ours`` over ``peer``: overall (medians) and round by round."""
    by = {r["name"]: r for r in results if r.get("status") == "ok"}
    if ours not in by or peer not in by:
        return None
    a, b = by[ours], by[peer]
    rounds = [round(x / y, 2) for x, y in zip(a.get("round_photos_per_s", []), b.get("round_photos_per_s", [])) if y]
    return {"ours": ours, "peer": peer, "ratio": round(a["photos_per_s"] / b["photos_per_s"], 2), "per_round": rounds}


def predictions_of(result: dict) -> dict[str, list[Bib]]:
    return {k: [Bib.from_json(b) for b in v] for k, v in result.get("predictions", {}).items()}


def evaluate(result: dict, truth: dict[str, list[Bib]], audited_truth: dict[str, list[Bib]] | None = None) -> dict:
    """Add scores to an ok result (keys of `truth` are the image paths given to the runner).

    With `audited_truth` (the labels plus the audited missing bibs, training/label_audit.json)
    the same predictions are also scored against it, under ``audited``.
    """
    if result.get("status") == "ok":
        preds = predictions_of(result)
        result.update(score(truth, preds))
        if audited_truth is not None:
            result["audited"] = score(audited_truth, preds)
    return result


# --------------------------------------------------------------------------- 24 MP images

def make_24mp(sources: list[Path], folder: Path, count: int = 10, long_side: int = 6000, short_side: int = 4000,
              grain: float = 8.0, quality: int = 95) -> list[Path]:
    """Upscale the first `count` sources to 6000x4000 (or 4000x6000) JPEGs in `folder`; reuses existing files.

    Gaussian grain (sigma `grain` grey levels) is added so the files have the entropy, size
    closer to real camera JPEGs than smooth upscales (~4 MB instead of ~2 MB; real ones are 8-12 MB)."""
    import cv2
    import numpy as np

    from bibtagger_gui.core.imageio import load_image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, src in enumerate(sources[:count]):
        dst = folder / f"synthetic_24mp_g{grain:g}_{i:02d}.jpg"
        if not dst.is_file():
            rgb = load_image(src)
            h, w = rgb.shape[:2]
            size = (long_side, short_side) if w >= h else (short_side, long_side)
            big = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
            if grain > 0:
                noise = np.empty(big.shape, np.int16)
                cv2.setRNGSeed(i)
                cv2.randn(noise, 0, grain)
                big = np.clip(big.astype(np.int16) + noise, 0, 255).astype(np.uint8)
                del noise
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise RuntimeError(f"cannot encode {dst}")
            tmp = dst.with_suffix(".part")
            np.asarray(data).tofile(str(tmp))
            tmp.replace(dst)
        out.append(dst)
    return out


# --------------------------------------------------------------------------- report

def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    training = subprocess.run(["pgrep", "-f", "train_"], capture_output=True, text=True).stdout.split()
    training = [p for p in training if int(p) != os.getpid()]
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
        "load_avg": [round(v, 2) for v in os.getloadavg()], "training_processes": len(training),
    }


def _pct(d: dict | None, key: str) -> str:
    return f"{100 * d[key]:.1f}" if d else "–"


def _ci(d: dict | None) -> str:
    ci = (d or {}).get("f1_ci95")
    return f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}" if ci else "–"


def render_table(report: dict) -> str:
    """The markdown tables of a report (as written to bench.md)."""
    m = report["machine"]
    load = (f"under load: {m['training_processes']} training processes running" if m.get("training_processes")
            else "no training processes running")
    lines = [
        f"# bibtagger benchmark — {m['date']}",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}; load average at start "
        f"{', '.join(str(v) for v in m['load_avg'])} ({load}).",
        f"Data: {report['dataset']['name']} validation split, {report['dataset']['photos']} photos, "
        f"{report['dataset']['bibs']} bibs. P/R/F1 in %.",
        f"Command: `{report.get('command', 'python -m training.bench')}`.",
        "",
    ]
    if report.get("placeholder_models"):
        lines += ["**Placeholder models (tests/model_factory.py): the bibtagger row means nothing.**", ""]
    lines += [
        "| pipeline | version | image P | image R | image F1 | image F1 95% CI | box+number P | box+number R "
        "| box+number F1 (IoU 0.5) | photos/s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["pipelines"]:
        if r.get("status") != "ok":
            lines.append(f"| {r['name']} | {r.get('status')} | – | – | – | – | – | – | – | – | – |")
            continue
        img, box = r.get("image"), r.get("box")
        lines.append(
            f"| {r['name']} | {r.get('version', '?')} | {_pct(img, 'precision')} | {_pct(img, 'recall')} "
            f"| {_pct(img, 'f1')} | {_ci(img)} | {_pct(box, 'precision')} | {_pct(box, 'recall')} | {_pct(box, 'f1')} "
            f"| {r.get('photos_per_s', 0):.2f} | {r.get('peak_rss_mb', 0):.0f} |")
    ratio = report.get("speed_ratio")
    if ratio:
        per = ", ".join(f"{v:.2f}" for v in ratio["per_round"])
        lines += ["", f"Speed: {ratio['ours']} {ratio['ratio']:.2f}x {ratio['peer']}'s photos/s "
                  f"(round by round, the pipelines alternating: {per})."]
    audited_rows = [r for r in report["pipelines"] if r.get("status") == "ok" and r.get("audited")]
    if audited_rows:
        extra = report["dataset"].get("audit_additions", 0)
        lines += ["", f"With the {extra} readable bibs the val labels miss added (label audit, "
                  "`training/label_audit.json`; same predictions):", "",
                  "| pipeline | image P | image R | image F1 | image F1 95% CI | box+number F1 |", "|---|---|---|---|---|---|"]
        for r in audited_rows:
            a = r["audited"]
            lines.append(f"| {r['name']} | {_pct(a['image'], 'precision')} | {_pct(a['image'], 'recall')} "
                         f"| {_pct(a['image'], 'f1')} | {_ci(a['image'])} | {_pct(a['box'], 'f1')} |")
    for r in report["pipelines"]:
        if r.get("error"):
            lines.append(f"\n{r['name']} failed: `{r['error']}`")
        if r.get("errors"):
            first = next(iter(r["errors"].values()))
            lines.append(f"\n{r['name']}: {len(r['errors'])} photo(s) failed and count as no prediction, e.g. `{first}`")
    speed = report.get("speed_24mp")
    if speed:
        lines += ["", f"## bibtagger on {speed['photos']} synthetic 24 MP JPEGs (6000x4000)", "",
                  "| threads per session x workers | photos/s | peak RSS MiB |", "|---|---|---|"]
        for r in speed["runs"]:
            label = f"{r.get('threads')} x {r.get('workers')}"
            if r.get("status") != "ok":
                lines.append(f"| {label} | {r.get('status')} | – |")
            else:
                best = " (best)" if r["name"] == speed.get("best") else ""
                lines.append(f"| {label}{best} | {r['photos_per_s']:.2f} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "Image P/R/F1: per photo, the set of predicted numbers against the true set (TP/FP/FN summed "
              "over photos); its 95 % CI is a bootstrap over photos (core.evaluation.f1_interval), the spread a "
              "split this small allows. Box+number: same number and IoU >= 0.5, one prediction per true bib. photos/s: "
              f"wall time of a pass from file path to bibs after a warm-up, models loaded, median of "
              f"{report.get('passes', 1) * report.get('rounds', 1)} pass(es) in {report.get('rounds', 1)} round(s) "
              "that alternate the pipelines. Peak RSS: "
              "VmHWM of the subprocess running the pipeline (tesseract: its largest child's ru_maxrss). "
              "Peers keep 2-6 digit tokens from text at least 1.5 % of the photo height."]
    return "\n".join(lines) + "\n"


def strip_predictions(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "predictions"}


def write_report(report: dict, out: Path, results: list[dict] = ()) -> tuple[Path, Path]:
    """Write bench.md, bench.json (no per-photo predictions) and predictions/NAME.json."""
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "bench.md", out / "bench.json"
    md.write_text(render_table(report), encoding="utf-8")
    slim = {**report, "pipelines": [strip_predictions(r) for r in report["pipelines"]]}
    if report.get("speed_24mp"):
        slim["speed_24mp"] = {**report["speed_24mp"], "runs": [strip_predictions(r) for r in report["speed_24mp"]["runs"]]}
    js.write_text(json.dumps(slim, indent=2), encoding="utf-8")
    pred_dir = out / "predictions"
    for r in results:
        if r.get("status") == "ok":
            pred_dir.mkdir(exist_ok=True)
            sizes = report.get("sizes", {})
            items = [{"image": report.get("relpaths", {}).get(k, k), "width": sizes.get(k, [0, 0])[0],
                      "height": sizes.get(k, [0, 0])[1], "bibs": v} for k, v in r["predictions"].items()]
            text = "[\n" + ",\n".join(json.dumps(item) for item in items) + "\n]\n"
            (pred_dir / f"{r['name']}.json").write_text(text, encoding="utf-8")
    return md, js


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from training.data import DEFAULT_DEV

    ap = argparse.ArgumentParser(prog="python -m training.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench_out"), help="output folder (default bench_out)")
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DEV / "annotations.json", help="bib annotation JSON")
    ap.add_argument("--models", type=Path, default=None, help="folder with detector.onnx + reader.onnx "
                    "(default: resources/models)")
    ap.add_argument("--placeholder", action="store_true",
                    help="use the tiny placeholder models of tests/model_factory.py (harness development only)")
    ap.add_argument("--rapidocr-python", type=Path, default=None,
                    help="interpreter with rapidocr installed (default OUT/venv-rapidocr/bin/python)")
    ap.add_argument("--tesseract", default="tesseract", help="tesseract binary")
    ap.add_argument("--only", nargs="+", choices=["bibtagger", "rapidocr", "tesseract"], default=None)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N validation photos")
    ap.add_argument("--warmup", type=int, default=2, help="photos run once, untimed, before timing")
    ap.add_argument("--passes", type=int, default=1, help="timed passes per pipeline and round")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds over the pipelines, alternating (photos/s from the median of all passes); "
                         "the 24 MP runs make passes x rounds passes")
    ap.add_argument("--big", type=int, default=10, help="number of synthetic 24 MP photos (0 = skip that run)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bibtagger_gui.core.recognizer import default_models_dir
    from training.data import audited, label_audit_path, load_entries, split

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    if not args.dataset.is_file():
        print(f"dataset not found: {args.dataset}", file=sys.stderr)
        return 2
    _, val = split(load_entries(args.dataset))
    val = val[: args.limit] if args.limit else val
    truth = {str(e.path): list(e.bibs) for e in val}
    audited_truth = {str(e.path): list(e.bibs) for e in audited(val, label_audit_path("auto", args.dataset))}
    n_added = sum(len(audited_truth[k]) - len(truth[k]) for k in truth)
    images = [e.path for e in val]

    if args.placeholder:
        sys.path.insert(0, str(REPO))
        from tests.model_factory import make_placeholder_models

        models = make_placeholder_models(out / "placeholder_models")[0].parent
    else:
        models = (args.models or default_models_dir()).resolve()
    rapid_py = args.rapidocr_python or out / "venv-rapidocr" / "bin" / "python"
    pipes = [ours_pipeline(models), rapidocr_pipeline(rapid_py), tesseract_pipeline(args.tesseract)]
    pipes = [p for p in pipes if not args.only or p.name in args.only]

    work = Path(tempfile.mkdtemp(prefix="jobs-", dir=out))
    results = [evaluate(r, truth, audited_truth if n_added else None)
               for r in run_rounds(pipes, images, work, rounds=args.rounds, warmup=args.warmup, passes=args.passes)]

    report = {
        "machine": machine,
        "command": " ".join(["python -m training.bench", *(argv if argv is not None else sys.argv[1:])]),
        "dataset": {"name": args.dataset.parent.name, "path": str(args.dataset), "split": "val",
                    "photos": len(val), "bibs": sum(len(e.bibs) for e in val),
                    "audit_additions": n_added},
        "models": str(models), "placeholder_models": bool(args.placeholder), "scorer": SCORER,
        "pipelines": results, "passes": args.passes, "rounds": args.rounds, "speed_ratio": speed_ratio(results),
        "relpaths": {str(e.path): e.image for e in val},
        "sizes": {str(e.path): [e.width, e.height] for e in val},
    }
    if args.big and (not args.only or "bibtagger" in args.only):
        print(f"[bench] bibtagger on {args.big} synthetic 24 MP photos ...", file=sys.stderr, flush=True)
        big = make_24mp(images, out / "24mp", args.big)
        runs = [run_pipeline(ours_pipeline(models, threads=t, workers=w, name=f"bibtagger-24mp-{t}x{w}"),
                             big, work, warmup=1, passes=args.passes * args.rounds) for t, w in ((1, 2), (2, 1))]
        ok = [r for r in runs if r.get("status") == "ok"]
        best = max(ok, key=lambda r: r["photos_per_s"])["name"] if ok else None
        report["speed_24mp"] = {"photos": len(big), "runs": runs, "best": best}
    report["machine"]["training_processes_at_end"] = machine_info()["training_processes"]
    md, js = write_report(report, out, results)
    shutil.rmtree(work, ignore_errors=True)
    print(md.read_text(encoding="utf-8"))
    print(f"wrote {md} and {js}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
