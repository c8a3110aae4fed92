"""Tiny but real ONNX models obeying the recognizer's contract, built with onnx.helper for tests.

The placeholder detector marks bright patches (like white bib plates) in the heatmap; the
placeholder reader is a single random convolution. Neither knows any answer: they exercise the
full ONNX Runtime path (metadata, shapes, decoding) quickly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def _meta(model: onnx.ModelProto, props: dict[str, str]) -> None:
    for k, v in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v


def make_placeholder_detector(path: Path, size: int = 128, box=(24.0, 12.0)) -> Path:
    s = size // 4
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["grey"], axes=[1], keepdims=1),
        helper.make_node("AveragePool", ["grey"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Sub", ["pooled", "bright"], ["centred"]),
        helper.make_node("Mul", ["centred", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["heatmap"]),
        helper.make_node("Conv", ["pooled", "zero_w", "size_b"], ["size"]),
        helper.make_node("Conv", ["pooled", "zero_w", "off_b"], ["offset"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0.8, np.float32), "bright"),
        numpy_helper.from_array(np.array(20.0, np.float32), "gain"),
        numpy_helper.from_array(np.zeros((2, 1, 1, 1), np.float32), "zero_w"),
        numpy_helper.from_array(np.array(box, np.float32), "size_b"),
        numpy_helper.from_array(np.array([0.5, 0.5], np.float32), "off_b"),
    ]
    graph = helper.make_graph(
        nodes,
        "placeholder_detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [
            helper.make_tensor_value_info("heatmap", TensorProto.FLOAT, [1, 1, s, s]),
            helper.make_tensor_value_info("size", TensorProto.FLOAT, [1, 2, s, s]),
            helper.make_tensor_value_info("offset", TensorProto.FLOAT, [1, 2, s, s]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    _meta(model, {"bibtagger.kind": "detector", "bibtagger.version": "placeholder-1",
                  "bibtagger.input_size": f"{size},{size}", "bibtagger.stride": "4",
                  "bibtagger.data_hash": "none"})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def make_placeholder_reader(path: Path, charset: str = "0123456789", h: int = 32, w: int = 128, seed: int = 0) -> Path:
    c = len(charset) + 1
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.5, (c, 1, h, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["crop", "w"], ["feat"], strides=[1, 4]),
        helper.make_node("Squeeze", ["feat", "axis2"], ["seq"]),
        helper.make_node("Transpose", ["seq"], ["ntc"], perm=[0, 2, 1]),
        helper.make_node("LogSoftmax", ["ntc"], ["logits"], axis=2),
    ]
    inits = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.array([2], np.int64), "axis2")]
    graph = helper.make_graph(
        nodes,
        "placeholder_reader",
        [helper.make_tensor_value_info("crop", TensorProto.FLOAT, ["N", 1, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", w // 4, c])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    _meta(model, {"bibtagger.kind": "reader", "bibtagger.version": "placeholder-1",
                  "bibtagger.input_size": f"{h},{w}", "bibtagger.charset": charset,
                  "bibtagger.data_hash": "none"})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def make_placeholder_models(folder: Path) -> tuple[Path, Path]:
    """Write detector.onnx and reader.onnx into `folder` and return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return make_placeholder_detector(folder / "detector.onnx"), make_placeholder_reader(folder / "reader.onnx")


def make_trainable_models(folder: Path, readers: int = 2, widths: tuple[int, int, int, int] = (8, 8, 16, 16),
                          hidden: int = 16) -> Path:
    """A models folder `finetune` can start from, shaped like resources/models: the placeholder detector and an
    ensemble of `readers` untrained CRNN readers (reader, reader-2, …; narrow, so that training and int8
    quantization take a moment), each a float ONNX export with its torch checkpoint NAME.pt beside it.
    Needs torch (imported here only)."""
    import torch

    from training.export import export_reader
    from training.models.reader import CRNN

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    make_placeholder_detector(folder / "detector.onnx")
    for i in range(readers):
        name = "reader" if i == 0 else f"reader-{i + 1}"
        torch.manual_seed(i)
        model = CRNN(channels=widths, hidden=hidden)
        torch.save({"kind": "reader", "state_dict": model.state_dict(), "charset": model.charset,
                    "input_size": [model.height, model.width], "conv_channels": list(widths), "hidden": hidden,
                    "data_hash": "base", "version": f"{name}-base"},
                   folder / f"{name}.pt")
        export_reader(model, folder / f"{name}.onnx", f"{name}-base", "base")
    return folder


def make_constant_reader(path: Path, text: str = "12", charset: str = "0123456789", h: int = 32, w: int = 128,
                         version: str = "constant-1") -> Path:
    """A reader that reads `text` in every crop, surely (its logits ignore the pixels): a start model whose
    readings are known, for comparisons of model folders on photos whose bibs are `text`."""
    c, t = len(charset) + 1, w // 4
    pattern = np.full((1, t, c), -20.0, np.float32)
    step = t // (2 * len(text))
    for i, ch in enumerate(text):  # each character over `step` columns, a blank between two characters
        pattern[0, 2 * i * step : (2 * i + 1) * step, charset.index(ch) + 1] = 20.0
        pattern[0, (2 * i + 1) * step : (2 * i + 2) * step, 0] = 20.0
    pattern[0, 2 * len(text) * step :, 0] = 20.0
    nodes = [
        helper.make_node("Conv", ["crop", "w"], ["feat"], strides=[1, 4]),
        helper.make_node("Squeeze", ["feat", "axis2"], ["seq"]),
        helper.make_node("Transpose", ["seq"], ["ntc"], perm=[0, 2, 1]),
        helper.make_node("Add", ["ntc", "pattern"], ["scores"]),
        helper.make_node("LogSoftmax", ["scores"], ["logits"], axis=2),
    ]
    inits = [numpy_helper.from_array(np.zeros((c, 1, h, 4), np.float32), "w"),
             numpy_helper.from_array(np.array([2], np.int64), "axis2"), numpy_helper.from_array(pattern, "pattern")]
    graph = helper.make_graph(
        nodes,
        "constant_reader",
        [helper.make_tensor_value_info("crop", TensorProto.FLOAT, ["N", 1, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", t, c])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    _meta(model, {"bibtagger.kind": "reader", "bibtagger.version": version, "bibtagger.input_size": f"{h},{w}",
                  "bibtagger.charset": charset, "bibtagger.data_hash": "none"})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)
