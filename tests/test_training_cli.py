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
    not_pt.write_bytes(b"\x08\x07not a pickle")  # an ONNX file given where a checkpoint belongs
    assert main(["export", "--kind", "reader", "--ckpt", str(not_pt), "--out", str(tmp_path / "x.onnx")]) == 2
    assert capsys.readouterr().err.strip().startswith("export: not a torch checkpoint (.pt)")
    assert not (tmp_path / "x.onnx").exists()
