"""`python -m training <command>`: a bad path or file on the command line is one line, not a traceback."""

from __future__ import annotations

from training.__main__ import main


def test_a_missing_or_wrong_file_is_one_line(tmp_path, capsys, one_torch_thread):
    missing = tmp_path / "nope.json"
    assert main(["train-reader", "--data", str(missing), "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == f"train-reader: No such file or directory: {missing}"
    assert main(["eval-reader", "--onnx", str(tmp_path / "nope.onnx")]) == 2
    assert capsys.readouterr().err.strip() == f"eval-reader: reader model not found: {tmp_path / 'nope.onnx'}"
    not_pt = tmp_path / "reader.onnx"
    not_pt.write_bytes(b"\x08\x07not a pickle")
    rc = main(["train-reader", "--init", str(not_pt), "--synthetic", "4", "--epochs", "0", "--finetune-epochs", "0",
               "--out", str(tmp_path / "run2")])  # fmt: skip
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("train-reader: not a torch checkpoint (.pt)")
