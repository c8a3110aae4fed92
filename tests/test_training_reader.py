"""Reader: data readers, model shape, training steps, tiny end-to-end training, finetune command."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from bibtagger_gui.core.decode import ctc_greedy_decode
from training.data import entries_from_annotations, entries_from_store, load_entries, split
from training.models.reader import CHARSET, CRNN, encode_targets, greedy_decode
from training.reader_data import SIZE, eval_crop, load_real_bibs, real_sample, render_synthetic
from training.synth_bibs import paste_bib, random_background, render_bib

TINY = dict(channels=(8, 16, 16, 24), hidden=16)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_photo_set(folder: Path, n: int = 6, seed: int = 0) -> list[dict]:
    """Write n JPEG 'race photos' with one pasted synthetic bib each; return annotation items."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        img = random_background(rng, 240, 320)
        plate, number, box = render_bib(rng, strength=0.3)
        scale = 40 / (box[3] - box[1])
        img, ibox = paste_bib(rng, img, plate, box, 60, 50, scale)
        name = f"photo_{i}.jpg"
        cv2.imwrite(str(folder / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        items.append({"image": name, "width": 320, "height": 240, "bibs": [{"number": number, "box": [round(v, 1) for v in ibox]}]})
    return items


def test_entries_readers_and_split(tmp_path):
    items = make_photo_set(tmp_path, 4)
    items[0]["bibs"].append({"number": "12", "box": None})
    (tmp_path / "annotations.json").write_text(json.dumps(items))
    entries = load_entries(tmp_path / "annotations.json")
    assert [e.image for e in entries] == [f"photo_{i}.jpg" for i in range(4)]
    assert entries[0].path == tmp_path / "photo_0.jpg" and entries[0].bibs[1].box is None
    assert entries_from_annotations(items, tmp_path) == entries
    train, val = split(entries)
    assert sorted(e.image for e in train + val) == sorted(e.image for e in entries)
    assert split(list(reversed(entries)))[1] == list(reversed(val))  # depends on names only
    warn = io.StringIO()
    bibs = load_real_bibs(entries, warn=warn)
    assert len(bibs) == 4 and "no box" in warn.getvalue()
    assert bibs[0].image.shape == (240, 320, 3)
    crop = eval_crop(bibs[0])
    assert crop.shape == SIZE and crop.dtype == np.float32
    rng = np.random.default_rng(0)
    for _ in range(5):
        c = real_sample(rng, bibs[1])
        assert c.shape == SIZE and 0 <= c.min() and c.max() <= 1


def test_unreadable_photo_is_reported_and_skipped(tmp_path):
    items = make_photo_set(tmp_path, 2)
    (tmp_path / "photo_1.jpg").write_bytes(b"not a jpeg")
    warn = io.StringIO()
    bibs = load_real_bibs(entries_from_annotations(items, tmp_path), warn=warn)
    assert len(bibs) == 1 and "photo_1.jpg" in warn.getvalue()


def test_entries_from_store_reads_reviewed_only(tmp_path):
    from bibtagger_gui.core.store import Store

    items = make_photo_set(tmp_path, 3)
    with Store.open(tmp_path) as store:
        store.scan()
        for item in items[:2]:
            photo = store.photo_by_path(item["image"])
            store.add_bib(photo.id, item["bibs"][0]["number"], item["bibs"][0]["box"])
        store.set_reviewed(store.photo_by_path(items[0]["image"]).id, True)
    entries = entries_from_store(tmp_path)
    assert [e.image for e in entries] == [items[0]["image"]]
    assert entries[0].bibs[0].number == items[0]["bibs"][0]["number"]
    assert entries[0].path.resolve() == (tmp_path / items[0]["image"]).resolve()


def test_reader_forward_shape_and_size():
    model = CRNN().eval()
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    out = model(torch.rand(3, 1, *SIZE))
    assert out.shape == (3, SIZE[1] // 4, len(CHARSET) + 1)
    assert torch.allclose(out.exp().sum(2), torch.ones(3, SIZE[1] // 4), atol=1e-5)


def test_encode_targets_and_greedy_decode_agree_with_numpy_decode():
    targets, lengths = encode_targets(["12", "A3"], CHARSET)
    assert targets.tolist() == [2, 3, CHARSET.index("A") + 1, 4] and lengths.tolist() == [2, 2]
    logits = torch.log_softmax(torch.randn(4, 32, len(CHARSET) + 1) * 3, 2)
    assert greedy_decode(logits, CHARSET) == [t for t, _ in ctc_greedy_decode(logits.numpy(), CHARSET)]


def test_the_synthetic_render_reports_progress_steadily(monkeypatch):
    """The render reported every 1000 crops: 10 s and more of a progress bar standing still (finetune's 2000)."""
    import training.reader_data as rd

    monkeypatch.setattr(rd, "synth_sample", lambda rng, photos, **kw: (np.zeros(kw["size"], np.float32), "1"))  # no drawing
    calls = []
    render_synthetic(2 * rd.RENDER_PROGRESS_EVERY + 5, seed=0, progress=lambda i, n: calls.append((i, n)))
    n = 2 * rd.RENDER_PROGRESS_EVERY + 5
    assert calls == [(rd.RENDER_PROGRESS_EVERY, n), (2 * rd.RENDER_PROGRESS_EVERY, n)] and rd.RENDER_PROGRESS_EVERY <= 100


def test_training_steps_reduce_loss():
    torch.manual_seed(0)
    xs, ys = render_synthetic(8, seed=0)
    x = torch.from_numpy(xs.astype(np.float32) / 255)[:, None]
    model = CRNN(**TINY)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    tg, tl = encode_targets(ys, CHARSET)
    losses = []
    for _ in range(30):
        lp = model(x)
        loss = ctc(lp.permute(1, 0, 2), tg, torch.full((8,), lp.shape[1], dtype=torch.long), tl)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])


def test_tiny_training_run_writes_checkpoints(tmp_path):
    from training.train_reader import ReaderConfig, evaluate, load_reader, train

    items = make_photo_set(tmp_path / "photos", 6)
    entries = entries_from_annotations(items, tmp_path / "photos")
    cfg = ReaderConfig(out=str(tmp_path / "run"), synthetic=40, epochs=1, finetune_epochs=1, finetune_steps=2, batch=8, threads=1)
    summary = train(cfg, entries[:4], entries[4:])
    for name in ("best.pt", "last.pt", "history.json", "summary.json"):
        assert (tmp_path / "run" / name).is_file()
    assert summary["val_bibs"] == 2 and summary["train_bibs"] == 4
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["phase"] for h in history] == ["pretrain", "finetune"]
    model, ckpt = load_reader(tmp_path / "run" / "best.pt")
    assert model.charset == CHARSET and ckpt["data_hash"] == summary["data_hash"]
    # evaluate() counts exact matches through core.decode
    bibs = load_real_bibs(entries[4:])
    crops = np.stack([eval_crop(b) for b in bibs])
    res = evaluate(model, crops, [b.number for b in bibs])
    lp = model.eval()(torch.from_numpy(crops)[:, None]).detach().numpy()
    expected = np.mean([t == b.number for (t, _), b in zip(ctc_greedy_decode(lp, CHARSET), bibs)])
    assert res["n"] == 2 and res["accuracy"] == pytest.approx(expected)


def reviewed_photo_set(folder: Path, seed: int, number: str | None = None) -> Path:
    """A photo folder whose store has one human bib per photo, every photo reviewed; with ``number``, each bib
    was typed as that number (the box is the pasted plate's)."""
    from bibtagger_gui.core.store import Store

    items = make_photo_set(folder, 6, seed=seed)
    with Store.open(folder) as store:
        store.scan()
        for item in items:
            photo = store.photo_by_path(item["image"])
            store.add_bib(photo.id, number or item["bibs"][0]["number"], item["bibs"][0]["box"])
            store.set_reviewed(photo.id, True)
    return folder


def base_reader_models(models: Path) -> Path:
    """A models folder with an untrained reader as reader.pt (finetune's start) and reader.onnx."""
    from training.export import export_reader

    models.mkdir(parents=True, exist_ok=True)
    base = CRNN()
    torch.save({"kind": "reader", "state_dict": base.state_dict(), "charset": CHARSET, "input_size": list(SIZE),
                "data_hash": "base"}, models / "reader.pt")
    export_reader(base, models / "reader.onnx", "reader-base", "base")
    return models


def test_finetune_command_on_a_tiny_store(tmp_path):
    from bibtagger_gui.core.recognizer import Recognizer
    from tests.model_factory import make_placeholder_detector
    from training.__main__ import main as training_main
    from training.export import read_metadata

    photos = reviewed_photo_set(tmp_path / "race", seed=4)
    models = base_reader_models(tmp_path / "models")
    make_placeholder_detector(models / "detector.onnx")
    out = tmp_path / "out"
    rc = training_main(["finetune", "--from", str(photos), "--models", str(models), "--out", str(out), "--epochs", "1",
                        "--steps", "1", "--batch", "4", "--synthetic", "20", "--dev", "", "--threads", "1", "--skip-detector",
                        "--keep-start", "never"])  # it looks at the fine-tuned reader (auto keeps the start on a tie)
    assert rc == 0
    for name in ("reader.onnx", "reader.pt", "reader.md", "detector.onnx", "finetune.json"):
        assert (out / name).is_file(), name
    meta = read_metadata(out / "reader.onnx")
    assert meta["bibtagger.kind"] == "reader" and meta["bibtagger.version"].startswith("reader-") and "-ft-" in meta["bibtagger.version"]
    rec = Recognizer.from_dir(out)  # what the app's "Load Model Folder" does
    assert "-ft-" in rec.version
    # a barely trained reader reads nothing right, so no calibration can be fitted: raw scores, said why
    cal = json.loads((out / "finetune.json").read_text())["calibration"]
    assert cal["calibrated"] is False and cal["reason"] and not (out / "calibration.json").exists()
    assert rec.calibration is None and "no calibration.json" in rec.calibration_note
    assert isinstance(rec.recognize(np.zeros((128, 128, 3), np.uint8)), list)


def test_finetune_without_reviewed_photos_fails_clearly(tmp_path, capsys):
    from bibtagger_gui.core.store import Store
    from training.finetune import main as finetune_main

    make_photo_set(tmp_path / "race", 2)
    with Store.open(tmp_path / "race") as store:
        store.scan()
    assert finetune_main(["--from", str(tmp_path / "race"), "--out", str(tmp_path / "out")]) == 2
    assert "no reviewed photos" in capsys.readouterr().out


@pytest.mark.slow
def test_finetune_also_finetunes_the_detector_when_its_checkpoint_exists(tmp_path):
    pytest.importorskip("training.train_detector")
    from bibtagger_gui.core.recognizer import Recognizer
    from training.finetune import main as finetune_main
    from training.models.detector import build_detector

    photos = reviewed_photo_set(tmp_path / "race", seed=5)
    models = base_reader_models(tmp_path / "models")
    torch.save({"model": build_detector().state_dict(), "arch": {}, "input_size": 512, "data_hash": "x"}, models / "detector.pt")
    out = tmp_path / "out"
    assert finetune_main(["--from", str(photos), "--models", str(models), "--out", str(out), "--epochs", "1", "--steps", "1",
                          "--batch", "4", "--synthetic", "20", "--dev", "", "--threads", "1", "--detector-epochs", "1",
                          "--detector-steps", "1"]) == 0
    report = json.loads((out / "finetune.json").read_text())
    assert report["detector"]["finetuned"] is True and (out / "detector.pt").is_file()
    assert Recognizer.from_dir(out).detector.meta["bibtagger.kind"] == "detector"


def test_training_dispatcher(capsys):
    from training.__main__ import COMMANDS, main

    assert main([]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in COMMANDS)
    assert main(["no-such-command"]) == 2
    assert set(COMMANDS) >= {"synth-preview", "train-reader", "train-detector", "export", "finetune", "bench"}


def test_documented_label_slips_are_fixed_on_read(rbnr_dev):
    """shared/datasets/README.md lists two label slips; training reads the printed numbers."""
    import json

    from training.data import LABEL_FIXES, load_entries

    raw = {item["image"]: [b["number"] for b in item["bibs"]] for item in json.loads((rbnr_dev / "annotations.json").read_text())}
    entries = {e.image: [b.number for b in e.bibs] for e in load_entries(rbnr_dev / "annotations.json")}
    for (image, wrong), right in LABEL_FIXES.items():
        assert wrong in raw[image] and wrong not in entries[image] and right in entries[image]
    assert sum(map(len, raw.values())) == sum(map(len, entries.values()))


def test_label_audit_adds_missing_bibs(rbnr_dev):
    """label_audit.json: unlabelled numbers, boxes inside the photo; `audited` adds exactly those asked for."""
    import json

    from training.data import LABEL_AUDIT, audited, load_entries, split_of

    items = json.loads(LABEL_AUDIT.read_text())
    entries = load_entries(rbnr_dev / "annotations.json")
    by_image = {e.image: e for e in entries}
    for item in items:
        e = by_image[item["image"]]
        assert item["number"] not in {x.number for x in e.bibs}
        assert item["legible"] == (not item["number"].startswith("?"))
        x1, y1, x2, y2 = item["box"]
        assert 0 <= x1 < x2 <= e.width and 0 <= y1 < y2 <= e.height
    for legible_only in (True, False):
        want = [i for i in items if i["legible"] or not legible_only]
        after = audited(entries, legible_only=legible_only)
        assert sum(len(e.bibs) for e in after) == sum(len(e.bibs) for e in entries) + len(want)
    val_added = [i for i in items if split_of(i["image"]) == "val"]
    assert val_added and all(i["legible"] for i in val_added)  # val photos were audited for legible bibs only


def test_training_from_a_taller_reader_keeps_its_input_size(tmp_path):
    from training.train_reader import ReaderConfig, load_reader, train

    items = make_photo_set(tmp_path / "photos", 4)
    entries = entries_from_annotations(items, tmp_path / "photos")
    base = CRNN(height=48, width=192)
    torch.save({"kind": "reader", "state_dict": base.state_dict(), "charset": CHARSET, "input_size": [48, 192],
                "data_hash": "base"}, tmp_path / "base.pt")
    cfg = ReaderConfig(out=str(tmp_path / "run"), synthetic=16, epochs=0, finetune_epochs=1, finetune_steps=1,
                       batch=4, threads=1, init=str(tmp_path / "base.pt"))  # default height 32 is overridden
    train(cfg, entries[:3], entries[3:])
    model, ckpt = load_reader(tmp_path / "run" / "best.pt")
    assert (model.height, model.width) == (48, 192) and ckpt["input_size"] == [48, 192]


def test_init_at_another_input_size_warm_starts_from_its_weights(tmp_path):
    from training.train_reader import ReaderConfig, load_reader, resize_reader_state, train

    base = CRNN()  # 32x128
    for p in base.parameters():
        torch.nn.init.normal_(p)
    torch.save({"kind": "reader", "state_dict": base.state_dict(), "charset": CHARSET, "input_size": [32, 128],
                "data_hash": "base"}, tmp_path / "base.pt")
    tall = resize_reader_state(base.state_dict(), CRNN(height=48, width=192).state_dict())
    changed = [k for k, v in base.state_dict().items() if v.shape != tall[k].shape]
    assert len(changed) == 1 and tall[changed[0]].shape[2] == 3  # only the height collapse: kernel 2 -> 3
    old, new = base.state_dict()[changed[0]], tall[changed[0]]
    assert torch.allclose(old.sum(2), new.sum(2), atol=1e-5)  # same response to a uniform feature column
    assert torch.allclose(new[:, :, 0], old[:, :, 0] * 2 / 3) and torch.allclose(new[:, :, 2], old[:, :, 1] * 2 / 3)
    assert all(torch.equal(v, tall[k]) for k, v in base.state_dict().items() if k not in changed)
    with pytest.raises(ValueError, match="cannot fit"):  # another charset changes the head: not a size change
        resize_reader_state(base.state_dict(), CRNN(charset="0123456789").state_dict())

    items = make_photo_set(tmp_path / "photos", 4)
    entries = entries_from_annotations(items, tmp_path / "photos")
    cfg = ReaderConfig(out=str(tmp_path / "run"), synthetic=16, epochs=0, finetune_epochs=1, finetune_steps=1,
                       batch=4, threads=1, init=str(tmp_path / "base.pt"), height=48, width=192)
    train(cfg, entries[:3], entries[3:])
    model, ckpt = load_reader(tmp_path / "run" / "best.pt")
    assert (model.height, model.width) == (48, 192) and ckpt["input_size"] == [48, 192]
    got, start = model.state_dict()["head.weight"], base.state_dict()["head.weight"]
    assert (got - start).abs().mean() < 0.05 * start.abs().mean()  # trained on from the base's weights


def test_rgb_reader_warm_starts_as_the_grey_one_trains_and_exports(tmp_path):
    from bibtagger_gui.core.recognizer import OnnxModel, reader_batch, reader_crop
    from training.export import export_reader
    from training.train_reader import ReaderConfig, load_reader, resize_reader_state, train

    torch.manual_seed(0)
    base = CRNN()
    base.train()
    with torch.no_grad():
        for _ in range(3):
            base(torch.rand(8, 1, 32, 128))  # BatchNorm statistics away from the identity
    base.eval()
    rgb = CRNN(in_channels=3)
    rgb.load_state_dict(resize_reader_state(base.state_dict(), rgb.state_dict()))
    rgb.eval()
    grey = torch.rand(4, 1, 32, 128)
    with torch.no_grad():  # an uncoloured crop (R = G = B) reads exactly as the grey reader reads it
        assert torch.allclose(rgb(grey.repeat(1, 3, 1, 1)), base(grey), atol=1e-5)
        coloured = torch.rand(4, 3, 32, 128)
        luma = (coloured * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        assert torch.allclose(rgb(coloured), base(luma), atol=1e-5)  # a coloured one as its luminance
    back = resize_reader_state(rgb.state_dict(), CRNN().state_dict())
    assert all(torch.allclose(v, back[k]) for k, v in base.state_dict().items())
    with pytest.raises(ValueError, match="1 \\(grey\\) or 3"):
        CRNN(in_channels=2)

    torch.save({"kind": "reader", "state_dict": base.state_dict(), "charset": CHARSET, "input_size": [32, 128],
                "data_hash": "base"}, tmp_path / "base.pt")
    items = make_photo_set(tmp_path / "photos", 4)
    entries = entries_from_annotations(items, tmp_path / "photos")
    cfg = ReaderConfig(out=str(tmp_path / "run"), synthetic=16, epochs=0, finetune_epochs=1, finetune_steps=1,
                       batch=4, threads=1, init=str(tmp_path / "base.pt"), channels=3)
    train(cfg, entries[:3], entries[3:])
    model, ckpt = load_reader(tmp_path / "run" / "best.pt")
    assert model.in_channels == 3 and ckpt["channels"] == 3 and ckpt["config"]["channels"] == 3
    onnx_path = export_reader(model.eval(), tmp_path / "reader.onnx", "reader-rgb-test", "abc")
    loaded = OnnxModel.load(onnx_path, "reader", threads=1)
    assert loaded.channels == 3 and loaded.meta["bibtagger.channels"] == "3"
    image = np.random.default_rng(2).integers(0, 255, (80, 200, 3), dtype=np.uint8)
    x = reader_batch([reader_crop(image, (50, 20, 120, 50), (32, 128), 0.1, channels=3)])
    (got,) = loaded.run({"crop": x})
    with torch.no_grad():
        assert np.abs(got - model(torch.from_numpy(x)).numpy()).max() < 1e-4  # ONNX-vs-torch parity, RGB
    again = ReaderConfig(out=str(tmp_path / "run2"), synthetic=16, epochs=0, finetune_epochs=1, finetune_steps=1,
                         batch=4, threads=1, init=str(tmp_path / "run" / "best.pt"))
    train(again, entries[:3], entries[3:])
    assert load_reader(tmp_path / "run2" / "best.pt")[0].in_channels == 3  # kept from --init when not given


def test_reader_stretch_comes_from_init_or_the_option_and_reaches_the_crops(tmp_path, monkeypatch):
    import training.train_reader as tr

    items = make_photo_set(tmp_path / "photos", 4)
    entries = entries_from_annotations(items, tmp_path / "photos")
    base = CRNN()
    torch.save({"kind": "reader", "state_dict": base.state_dict(), "charset": CHARSET, "input_size": [32, 128],
                "stretch": 1.5, "data_hash": "base"}, tmp_path / "base.pt")
    stretches = []
    real_eval_crop = tr.eval_crop

    def spy(bib, size, stretch=1.0, channels=1):
        stretches.append(stretch)
        return real_eval_crop(bib, size, stretch, channels)

    monkeypatch.setattr(tr, "eval_crop", spy)
    for option, want in ((None, 1.5), (2.0, 2.0)):
        stretches.clear()
        cfg = tr.ReaderConfig(out=str(tmp_path / f"run{want}"), synthetic=16, epochs=0, finetune_epochs=1,
                              finetune_steps=1, batch=4, threads=1, init=str(tmp_path / "base.pt"), stretch=option)
        tr.train(cfg, entries[:3], entries[3:])
        model, ckpt = tr.load_reader(tmp_path / f"run{want}" / "best.pt")
        assert model.stretch == ckpt["stretch"] == want and stretches and set(stretches) == {want}
    cfg = tr.ReaderConfig(out=str(tmp_path / "fresh"), synthetic=16, epochs=0, finetune_epochs=1, finetune_steps=1,
                          batch=4, threads=1)
    tr.train(cfg, entries[:3], entries[3:])
    assert tr.load_reader(tmp_path / "fresh" / "best.pt")[0].stretch == 1.0


def test_squeeze_and_fold_options_reach_the_synthetic_and_real_crops(tmp_path, monkeypatch):
    import training.train_reader as tr

    items = make_photo_set(tmp_path / "photos", 4)
    seen = {"synth": set(), "real": set(), "fold": set()}
    real_render, real_sample = tr.render_synthetic, tr.real_sample

    def spy_render(*a, squeeze, **k):
        seen["synth"].add(tuple(squeeze))
        return real_render(*a, squeeze=squeeze, **k)

    def spy_sample(*a, squeeze, fold, **k):
        seen["real"].add(tuple(squeeze))
        seen["fold"].add(fold)
        return real_sample(*a, squeeze=squeeze, fold=fold, **k)

    monkeypatch.setattr(tr, "render_synthetic", spy_render)
    monkeypatch.setattr(tr, "real_sample", spy_sample)
    monkeypatch.setattr(tr, "split", lambda entries: (entries[:3], entries[3:]))
    data = tmp_path / "photos" / "annotations.json"
    data.write_text(json.dumps(items))
    out = tmp_path / "run"
    assert tr.main(["--synthetic", "16", "--epochs", "1", "--finetune-epochs", "1", "--finetune-steps", "1", "--batch", "4",
                    "--threads", "1", "--squeeze", "0.5", "1.0", "--real-squeeze", "0.7", "1.1", "--real-fold", "0.3",
                    "--out", str(out), "--data", str(data), "--label-audit", "none"]) == 0
    assert seen == {"synth": {(0.5, 1.0)}, "real": {(0.7, 1.1)}, "fold": {0.3}}
    config = torch.load(out / "best.pt", weights_only=False)["config"]
    assert tuple(config["squeeze"]) == (0.5, 1.0) and tuple(config["real_squeeze"]) == (0.7, 1.1)
    assert config["real_fold"] == 0.3


def test_fold_region_foreshortens_one_side_of_the_crease():
    from training.reader_data import fold_region

    region = np.full((60, 200, 3), 40, np.uint8)
    region[:, 50:150] = 220  # the number's box: bright columns 50..150
    box = (50.0, 20.0, 150.0, 40.0)
    sides = set()
    for seed in range(12):
        out, (x1, y1, x2, y2) = fold_region(np.random.default_rng(seed), region, box)
        assert out.shape == region.shape and (y1, y2) == (20.0, 40.0)
        bright = np.nonzero(out[30, :, 0] > 130)[0]  # the middle row's bright columns after the fold
        if x2 < 150:  # folded on the right: the left end stays, the right end comes in to the new x2
            sides.add("right")
            assert x1 == 50 and 150 * 0.55 < x2 and abs(bright.max() + 1 - x2) <= 2
            np.testing.assert_array_equal(out[:, : int(x1) + 5], region[:, : int(x1) + 5])  # left of the crease untouched
        else:  # folded on the left
            sides.add("left")
            assert x2 == 150 and x1 > 50 and abs(bright.min() - x1) <= 2
            np.testing.assert_array_equal(out[:, int(x2) - 5 :], region[:, int(x2) - 5 :])
    assert sides == {"left", "right"}
    # real_sample applies it with probability `fold`: always at 1, never at 0 (same seed, other crops)
    bib = type("B", (), {"image": region, "box": box, "det_box": None})()
    plain = real_sample(np.random.default_rng(5), bib, strength=0.0)
    folded = real_sample(np.random.default_rng(5), bib, strength=0.0, fold=1.0)
    assert plain.shape == folded.shape and not np.array_equal(plain, folded)


def test_label_audit_option(tmp_path):
    from training.data import DEFAULT_DEV, LABEL_AUDIT, label_audit_path

    other = tmp_path / "annotations.json"
    assert label_audit_path("auto", DEFAULT_DEV / "annotations.json") == LABEL_AUDIT
    assert label_audit_path("auto", other) is None  # the audit is tied to rbnr_dev's image names
    assert label_audit_path("none", DEFAULT_DEV / "annotations.json") is None
    assert label_audit_path(str(tmp_path / "mine.json"), other) == tmp_path / "mine.json"


def test_parallel_render_depends_on_the_seed_not_on_the_worker_count():
    a_x, a_y = render_synthetic(20, seed=3, workers=2, chunk=6)
    b_x, b_y = render_synthetic(20, seed=3, workers=3, chunk=6)
    assert a_x.shape == (20, *SIZE) and a_x.dtype == np.uint8
    assert a_y == b_y and np.array_equal(a_x, b_x)
    c_x, c_y = render_synthetic(20, seed=4, workers=2, chunk=6)
    assert c_y != a_y
    # chunk k is the stream seeded (seed, k): its crops are the single-stream render of that seed sequence
    one_x, one_y = render_synthetic(6, seed=0, chunk=6)  # single stream of seed 0 = SeedSequence([0]) = ([0, 0])
    zero_x, zero_y = render_synthetic(12, seed=0, workers=2, chunk=6)
    assert zero_y[:6] == one_y and np.array_equal(zero_x[:6], one_x)


def test_synthetic_cache_reuses_matching_renders_and_replaces_others(tmp_path, capsys):
    from training.reader_data import synthetic_cached

    calls = []

    def render(seed):
        def go():
            calls.append(seed)
            return render_synthetic(4, seed=seed)
        return go

    path = tmp_path / "cache" / "syn.npz"
    x1, y1, loaded = synthetic_cached(path, {"seed": 1}, render(1))
    assert not loaded and path.is_file() and calls == [1]
    x2, y2, loaded = synthetic_cached(path, {"seed": 1}, render(1))
    assert loaded and calls == [1] and y2 == y1 and np.array_equal(x2, x1)
    x3, y3, loaded = synthetic_cached(path, {"seed": 2}, render(2))
    assert not loaded and calls == [1, 2] and "holds another synthetic render" in capsys.readouterr().err
    assert synthetic_cached(path, {"seed": 2}, render(2))[2]  # the new render replaced the old one
    path.write_bytes(b"PK\x03\x04 truncated")
    _, y4, loaded = synthetic_cached(path, {"seed": 2}, render(2))
    assert not loaded and y4 == y3 and "unreadable synthetic cache" in capsys.readouterr().err
    assert synthetic_cached(None, {"seed": 2}, render(2))[2] is False and calls == [1, 2, 2, 2]


def test_time_budget_shortens_pretraining_and_epoch_checkpoints_are_kept(tmp_path):
    from training.train_reader import ReaderConfig, train

    items = make_photo_set(tmp_path / "photos", 4)
    entries = entries_from_annotations(items, tmp_path / "photos")
    # 40 synthetic crops (36 after the held-out ones), 6 per batch of 8: 6 steps an epoch, 1800 planned
    cfg = ReaderConfig(out=str(tmp_path / "run"), synthetic=40, epochs=300, finetune_epochs=1, finetune_steps=1, batch=8,
                       threads=1, time_budget=1e-4, keep_epochs=True)
    train(cfg, entries[:3], entries[3:])
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    pretrain = [h for h in history if h["phase"] == "pretrain"]
    # the budget is fitted at step 150 (after the warm-up steps 0-50); spent already, so one step more: 151
    assert len(pretrain) == -(-151 // 6) < 300
    kept = sorted(p.name for p in (tmp_path / "run").glob("*-*.pt"))
    assert kept == sorted([f"pretrain-{e}.pt" for e in range(1, len(pretrain) + 1)] + ["finetune-1.pt"])


def scripted_val(monkeypatch, module, metrics: list[tuple[float, float]]) -> list[int]:
    """Make ``module.evaluate`` (train_reader's) answer ``metrics[k]`` (accuracy, loss) at its k-th call on the real
    val crops (n and errors stay the real ones): epochs that look better or worse on the held-out crops, whatever a
    tiny model does. Returns the list of calls made (their n)."""
    real, calls = module.evaluate, []

    def evaluate(model, crops, numbers, *args, **kwargs):
        res = real(model, crops, numbers, *args, **kwargs)
        if res["n"]:
            res["accuracy"], res["loss"] = metrics[min(len(calls), len(metrics) - 1)]
            calls.append(res["n"])
        return res

    monkeypatch.setattr(module, "evaluate", evaluate)
    return calls


def same_weights(a: Path, b: Path) -> bool:
    sa, sb = (torch.load(p, map_location="cpu", weights_only=False)["state_dict"] for p in (a, b))
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("pick, kept", [("accuracy", 1), ("loss", 3), ("last", 4)])
def test_the_epoch_pick_keeps_the_epoch_its_rule_names(tmp_path, monkeypatch, pick, kept):
    """train()'s ``pick``: accuracy (then loss; a tie keeps the earlier), loss over every val crop (a tie takes the
    later), last (the val crops only reported). best.pt is that epoch's checkpoint, and the summary names it."""
    import training.train_reader as tr

    items = make_photo_set(tmp_path / "photos", 6)
    entries = entries_from_annotations(items, tmp_path / "photos")
    # (accuracy, loss) of epochs 1-4: 1 reads the most, 2 and 3 tie on the lowest loss, 4 is the last
    calls = scripted_val(monkeypatch, tr, [(1.0, 3.0), (0.5, 1.0), (0.5, 1.0), (0.0, 2.0)])
    cfg = tr.ReaderConfig(out=str(tmp_path / "run"), synthetic=0, epochs=0, finetune_epochs=4, finetune_steps=1, batch=4,
                          threads=1, keep_epochs=True, pick=pick)
    summary = tr.train(cfg, entries[:4], entries[4:])
    assert calls == [2, 2, 2, 2]  # every epoch measured on the 2 val crops
    assert (summary["best_phase"], summary["best_epoch"], summary["epoch_pick"]) == ("finetune", kept, pick)
    assert same_weights(tmp_path / "run" / "best.pt", tmp_path / "run" / f"finetune-{kept}.pt")
    assert not same_weights(tmp_path / "run" / "best.pt", tmp_path / "run" / ("finetune-4.pt" if kept != 4 else "finetune-3.pt"))


@pytest.mark.parametrize("losses, kept", [((math.nan, 2.0, math.nan), 2), ((math.nan, math.nan, math.nan), 3)])
def test_the_loss_pick_keeps_a_finite_epoch_over_a_diverged_one_and_always_keeps_one(tmp_path, monkeypatch, losses, kept):
    """pick="loss" with a val loss that is NaN (a diverged epoch): NaN <= anything is false, so a first NaN epoch
    was never kept, no best.pt was written and the run ended on a missing file; now an epoch is always kept, a
    finite loss is preferred to NaN, and with only NaN the last epoch is kept (as "last" would)."""
    import training.train_reader as tr

    items = make_photo_set(tmp_path / "photos", 6)
    entries = entries_from_annotations(items, tmp_path / "photos")
    scripted_val(monkeypatch, tr, [(0.5, loss) for loss in losses])
    cfg = tr.ReaderConfig(out=str(tmp_path / "run"), synthetic=0, epochs=0, finetune_epochs=len(losses), finetune_steps=1,
                          batch=4, threads=1, keep_epochs=True, pick="loss")
    summary = tr.train(cfg, entries[:4], entries[4:])
    assert summary["best_epoch"] == kept and Path(summary["best"]).is_file()
    assert same_weights(tmp_path / "run" / "best.pt", tmp_path / "run" / f"finetune-{kept}.pt")


def test_an_unknown_epoch_pick_is_refused_before_any_work(tmp_path):
    from training.train_reader import ReaderConfig, train

    with pytest.raises(ValueError, match="unknown epoch pick 'best'.*accuracy, loss, last"):
        train(ReaderConfig(out=str(tmp_path / "run"), synthetic=10, pick="best"), [], [])
    assert not (tmp_path / "run").exists()


def test_reader_widths_come_from_the_option_or_init_and_survive_export(tmp_path):
    from training.export import export_reader_checkpoint
    from training.train_reader import ReaderConfig, load_reader, train

    items = make_photo_set(tmp_path / "photos", 4)
    entries = entries_from_annotations(items, tmp_path / "photos")
    cfg = ReaderConfig(out=str(tmp_path / "run"), synthetic=16, epochs=0, finetune_epochs=1, finetune_steps=1, batch=4,
                       threads=1, conv_channels=(8, 16, 24, 40), hidden=20)
    train(cfg, entries[:3], entries[3:])
    model, ckpt = load_reader(tmp_path / "run" / "best.pt")
    assert model.conv_channels == (8, 16, 24, 40) and model.hidden == 20 and model.rnn.hidden_size == 20
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in CRNN().parameters())
    # a warm start keeps the widths when none are given, and refuses others
    again = ReaderConfig(out=str(tmp_path / "run2"), synthetic=16, epochs=0, finetune_epochs=1, finetune_steps=1, batch=4,
                         threads=1, init=str(tmp_path / "run" / "best.pt"))
    train(again, entries[:3], entries[3:])
    assert load_reader(tmp_path / "run2" / "best.pt")[0].conv_channels == (8, 16, 24, 40)
    with pytest.raises(ValueError, match="widths"):
        train(ReaderConfig(**{**again.__dict__, "out": str(tmp_path / "run3"), "hidden": 32}), entries[:3], entries[3:])
    # export: the slim checkpoint beside the ONNX loads at the same widths, and ONNX matches torch
    from bibtagger_gui.core.recognizer import OnnxModel, reader_batch, reader_crop

    path = export_reader_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "reader.onnx", "reader-test-widths")
    # without --version, two differently trained readers still get two versions (the weights' hash)
    from training.export import main as export_main, read_metadata

    versions = []
    for run in ("run", "run2"):
        out = tmp_path / f"default-{run}.onnx"
        assert export_main(["--kind", "reader", "--ckpt", str(tmp_path / run / "best.pt"), "--out", str(out)]) == 0
        versions.append(read_metadata(out)["bibtagger.version"])
    assert versions[0] != versions[1] and all(re.fullmatch(r"reader-\d{4}\.\d\d\.\d\d-[0-9a-f]{6}", v) for v in versions)
    slim, _ = load_reader(path.with_suffix(".pt"))
    assert slim.conv_channels == (8, 16, 24, 40) and slim.hidden == 20
    image = np.random.default_rng(3).integers(0, 255, (80, 200, 3), dtype=np.uint8)
    x = reader_batch([reader_crop(image, (50, 20, 120, 50), (32, 128), 0.1)])
    (got,) = OnnxModel.load(path, "reader", threads=1).run({"crop": x})
    with torch.no_grad():
        assert np.abs(got - model.eval()(torch.from_numpy(x)).numpy()).max() < 1e-4


def test_reader_widths_are_checked():
    with pytest.raises(ValueError, match="widths"):
        CRNN(channels=(8, 16, 24))
    with pytest.raises(ValueError, match="widths"):
        CRNN(hidden=0)


def test_ctc_align_finds_where_each_character_is_emitted():
    from training.reader_data import ctc_align

    def logprobs(path, classes=4):
        lp = np.full((len(path), classes), np.log(0.02))
        lp[np.arange(len(path)), path] = np.log(0.94)
        return lp

    assert ctc_align(logprobs([0, 1, 1, 0, 2, 0, 0, 3]), [1, 2, 3]) == [1, 4, 7]
    assert ctc_align(logprobs([1, 0, 1, 0]), [1, 1]) == [0, 2]  # a repeat needs the blank between
    # forced: the true labels' best path, even where the best path of the frames reads otherwise
    assert ctc_align(logprobs([0, 1, 3, 0, 2]), [1, 2, 2]) is not None
    assert ctc_align(logprobs([1, 1]), [1, 1]) is None  # two 1s need three frames
    assert ctc_align(logprobs([1, 1]), []) is None


def test_mosaic_bib_recombines_the_bibs_own_character_strips():
    from training.reader_data import RealBib, mosaic_bib

    img = np.zeros((60, 200, 3), np.uint8)
    img[:, :50] = 10  # left margin
    for k, x in enumerate(range(50, 150, 25)):  # four characters, 25 px each, grey levels 100..130
        img[:, x : x + 25] = 100 + 10 * k
    img[:, 150:] = 250  # right margin
    bib = RealBib(img, (50.0, 20.0, 150.0, 40.0), "1234", "synthetic", cuts=(50.0, 75.0, 100.0, 125.0, 150.0))
    lengths = set()
    for seed in range(20):
        m = mosaic_bib(np.random.default_rng(seed), bib)
        lengths.add(len(m.number))
        x1, y1, x2, y2 = m.box
        assert (y1, y2) == (20.0, 40.0) and x2 - x1 == 25 * len(m.number)
        assert set(m.image[30, : int(x1), 0]) == {10} and set(m.image[30, int(x2) :, 0]) == {250}  # margins kept
        strips = m.image[30, int(x1) : int(x2), 0].reshape(len(m.number), 25)
        assert [int(s[0]) for s in strips] == [100 + 10 * "1234".index(c) for c in m.number]  # each strip is its digit's
    assert lengths == {3, 4, 5}
    assert mosaic_bib(np.random.default_rng(0), RealBib(img, bib.box, "1234", "s")) .number == "1234"  # no cuts
    assert mosaic_bib(np.random.default_rng(0), RealBib(img, bib.box, "A123", "s", cuts=bib.cuts)).number == "A123"


def test_glyph_cuts_of_a_rendered_number_fall_between_its_digits(tmp_path):
    """The shipped reader's alignment cuts rendered numbers into whole digits: the strips put back
    in reverse order read as the reversed number."""
    from bibtagger_gui.core.recognizer import OnnxModel, default_models_dir, reader_batch, reader_crop
    from training.reader_data import _recombine, attach_glyph_cuts

    items = make_photo_set(tmp_path, 12, seed=3)
    bibs = load_real_bibs(entries_from_annotations(items, tmp_path))
    reader = default_models_dir() / "reader.onnx"
    assert attach_glyph_cuts(bibs, reader, verify=False) >= 0.8 * len(bibs)
    model = OnnxModel.load(reader, "reader", 1)
    crops, wanted, used = [], [], []
    for b in bibs:
        if b.cuts is None or len(b.number) < 2:
            continue
        assert len(b.cuts) == len(b.number) + 1 and list(b.cuts) == sorted(b.cuts)
        assert (b.cuts[0], b.cuts[-1]) == (b.box[0], b.box[2])
        img, box = _recombine(b.image, b.box, b.cuts, list(range(len(b.number)))[::-1])
        crops.append(reader_crop(img, box, model.input_size, pad=0.1))
        wanted.append(b.number[::-1])
        used.append(b)
    (lp,) = model.run({"crop": reader_batch(crops)}, ["logits"])
    ok = [t == w for (t, _), w in zip(ctc_greedy_decode(lp, CHARSET), wanted)]
    assert len(wanted) >= 6 and sum(ok) >= 0.75 * len(wanted), (ok, wanted)
    # verify=True keeps exactly the cuts whose reversed strips read right (single digits: nothing to check)
    for b in bibs:
        b.cuts = None
    attach_glyph_cuts(bibs, reader)
    assert [b.cuts is not None for b in used] == ok


def test_real_mosaic_option_cuts_the_train_bibs_and_recombines_a_share_of_them(tmp_path, monkeypatch):
    import training.train_reader as tr

    items = make_photo_set(tmp_path / "photos", 4)
    calls = {"cut": 0, "mosaic": 0}
    real_cut, real_mosaic = tr.attach_glyph_cuts, tr.mosaic_bib

    def spy_cut(bibs, reader):
        calls["cut"] += 1
        calls["reader"] = Path(reader).name
        return real_cut(bibs, reader)

    def spy_mosaic(rng, bib):
        calls["mosaic"] += 1
        return real_mosaic(rng, bib)

    monkeypatch.setattr(tr, "attach_glyph_cuts", spy_cut)
    monkeypatch.setattr(tr, "mosaic_bib", spy_mosaic)
    monkeypatch.setattr(tr, "split", lambda entries: (entries[:3], entries[3:]))
    data = tmp_path / "photos" / "annotations.json"
    data.write_text(json.dumps(items))
    args = ["--synthetic", "0", "--epochs", "0", "--finetune-epochs", "1", "--finetune-steps", "2", "--batch", "8",
            "--threads", "1", "--data", str(data), "--label-audit", "none"]
    assert tr.main(args + ["--out", str(tmp_path / "plain")]) == 0
    assert calls == {"cut": 0, "mosaic": 0}
    assert tr.main(args + ["--real-mosaic", "0.5", "--out", str(tmp_path / "run")]) == 0
    assert calls["cut"] == 1 and calls["reader"] == "reader.onnx" and 2 <= calls["mosaic"] <= 14  # ~half of 16 real crops
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=False)["config"]["real_mosaic"] == 0.5
