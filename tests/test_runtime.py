"""The torch-free predictor (textlab.runtime) on models exported by `textlab export`: run where importing torch
fails, as on a machine with `textlab[runtime]` alone, its results equal the PyTorch model's."""

import json
import math
import os
import shutil
import subprocess
import sys

import pytest

import textlab

from conftest import ROOT, run_textlab
from textlab.cli import main
from textlab.data.toy_classification import generate_toy_classification
from textlab.data.toy_ner import generate_toy_ner
from textlab.predict import load_model
from textlab.runtime.__main__ import main as runtime_main

# What the runtime must never import: the training stack, and what only training and serving need.
TRAINING_STACK = ("torch", "lightning", "lightning_fabric", "pytorch_lightning", "torchmetrics", "datasets", "seqeval",
                  "sklearn", "jsonargparse", "fastapi")
# Put first on the path of a Python process (PYTHONPATH), it makes every import of TRAINING_STACK fail, as if they
# were not installed: Python imports sitecustomize at start-up.
SITECUSTOMIZE = f"""
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {TRAINING_STACK!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed in this test)", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
"""
# Several sentences and paragraphs, CRLF line breaks, characters outside ASCII (offsets count characters).
TOY = [" ".join(s.tokens) for s in generate_toy_ner(seed=0, num_train=10, num_val=10, num_test=12)["test"]]
DOCUMENT = "\r\n".join(TOY[:3]) + "\r\n\r\nZoë Müller visited Zürich — and " + TOY[3] + "\r\n" + TOY[4] + "\n\n" + TOY[5]
DOCUMENTS = [DOCUMENT, "", " ".join(TOY[6:9]), "Ünïcödé  " + TOY[9]]
REVIEWS = [text for text, _ in generate_toy_classification(seed=0, num_train=10, num_val=10, num_test=12)["test"]]


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory):
    """The environment of a process in which importing torch (and the rest of the training stack) fails."""
    folder = tmp_path_factory.mktemp("without_torch")
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {**os.environ, "PYTHONPATH": str(folder), "OMP_NUM_THREADS": "1"}


def run_without_torch(env, *args, cwd):
    return subprocess.run([sys.executable, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def exported_tagger(trained_tagger, tmp_path_factory):
    """`textlab export --ckpt_path BEST --format onnx --output DIR` of the shared toy tagger."""
    folder = tmp_path_factory.mktemp("exported_tagger")
    main(["export", "--ckpt_path", str(trained_tagger["best"]), "--format", "onnx", "--output", str(folder / "onnx")])
    return folder / "onnx"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A toy TextCNN classifier fitted by `textlab fit --config configs/cls_textcnn.yaml` (one epoch), exported."""
    folder = tmp_path_factory.mktemp("runtime_classifier")
    main(["fit", "--config", str(ROOT / "configs" / "cls_textcnn.yaml"), "--data.num_train", "200", "--data.num_val",
          "40", "--data.num_test", "0", "--trainer.max_epochs", "1", "--test_after_fit", "false",
          "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
          "--trainer.default_root_dir", str(folder)])
    ckpt = next(folder.rglob("last.ckpt"))
    main(["export", "--ckpt_path", str(ckpt), "--format", "onnx", "--output", str(folder / "onnx")])
    return {"ckpt": ckpt, "onnx": folder / "onnx"}


def test_the_block_makes_importing_torch_fail(without_torch, tmp_path):
    # the check below could fail: under the block, anything that imports torch does fail
    proc = run_without_torch(without_torch, "-c", "import textlab.data.tagging_batch", cwd=tmp_path)
    assert proc.returncode != 0 and "No module named 'torch' (not installed in this test)" in proc.stderr


def test_the_command_tags_a_file_as_textlab_predict_does_without_torch(trained_tagger, exported_tagger, without_torch,
                                                                       tmp_path):
    (tmp_path / "in.txt").write_bytes(DOCUMENT.encode("utf-8"))
    run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt", "--output_format",
                "jsonl", "--output", "torch.jsonl", cwd=tmp_path)
    # as `python -m textlab.runtime DIR in.txt --output onnx.jsonl`, then a look at what the process imported
    script = ("import runpy, sys; sys.argv = ['textlab.runtime', *sys.argv[1:]]\n"
              "try:\n    runpy.run_module('textlab.runtime', run_name='__main__')\n"
              "finally:\n    print(sorted({m.partition('.')[0] for m in sys.modules}))")
    proc = run_without_torch(without_torch, "-c", script, exported_tagger, "in.txt", "--output", "onnx.jsonl",
                             cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    imported = set(json.loads(proc.stdout.strip().replace("'", '"')))
    assert "onnxruntime" in imported and "textlab" in imported and not imported & set(TRAINING_STACK)
    torch_records = (tmp_path / "torch.jsonl").read_text(encoding="utf-8").splitlines()
    records = (tmp_path / "onnx.jsonl").read_text(encoding="utf-8").splitlines()
    assert records == torch_records  # tags, entities, character offsets, paragraph and sentence numbers
    entities = [e for line in records for e in json.loads(line)["entities"]]
    assert len(records) == 6 and len(entities) > 5
    assert all(DOCUMENT[e["start_char"]:e["end_char"]] == e["text"] for e in entities)


def test_the_python_api_tags_as_the_pytorch_model_without_torch(trained_tagger, exported_tagger, without_torch,
                                                                tmp_path):
    script = """
import json, sys
from textlab import runtime
tagger = runtime.load(sys.argv[1], threads=1)
documents = tagger.tag_texts(json.loads(sys.argv[2]), batch_size=3)
sentences = tagger.predict(json.loads(sys.argv[3]) + [""], batch_size=4)
assert "torch" not in sys.modules
print(json.dumps({"documents": [d.to_dict() for d in documents], "sentences": [s.to_dict() for s in sentences],
                  "one": tagger.tag_text(sys.argv[4]).to_dict()}))
"""
    proc = run_without_torch(without_torch, "-c", script, exported_tagger, json.dumps(DOCUMENTS), json.dumps(TOY),
                             DOCUMENT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    onnx = json.loads(proc.stdout)
    model = load_model(trained_tagger["best"])
    assert onnx["documents"] == [d.to_dict() for d in model.tag_texts(DOCUMENTS, batch_size=5)]
    assert onnx["sentences"] == [s.to_dict() for s in model.predict(TOY + [""])]
    assert onnx["one"] == model.tag_text(DOCUMENT).to_dict() == onnx["documents"][0]
    assert sum(len(d["entities"]) for d in onnx["documents"]) > 5


def test_a_classifier_classifies_as_the_pytorch_model_without_torch(classifier, without_torch, tmp_path):
    (tmp_path / "texts.txt").write_text("\n".join(REVIEWS[:6] + [""] + REVIEWS[6:]) + "\n", encoding="utf-8")
    script = """
import json, sys
from textlab import runtime
classifier = runtime.load(sys.argv[1])
results = classifier.predict(json.loads(sys.argv[2]), batch_size=5)
assert "torch" not in sys.modules
print(json.dumps([[r.label, r.probabilities] for r in results]))
"""
    api = run_without_torch(without_torch, "-c", script, classifier["onnx"], json.dumps(REVIEWS), cwd=tmp_path)
    cli = run_without_torch(without_torch, "-m", "textlab.runtime", classifier["onnx"], "texts.txt", "--confidences",
                            cwd=tmp_path)
    assert api.returncode == 0, api.stderr
    assert cli.returncode == 0, cli.stderr
    assert "texts.txt: read as one text a line" in cli.stderr  # the guessed format, said as textlab predict says it
    model = load_model(classifier["ckpt"])
    expected = model.predict(REVIEWS)
    assert [label for label, _ in json.loads(api.stdout)] == [r.label for r in expected]
    for (_, probabilities), r in zip(json.loads(api.stdout), expected):
        assert probabilities.keys() == r.probabilities.keys()
        assert all(math.isclose(probabilities[k], p, abs_tol=1e-5) for k, p in r.probabilities.items())
    # the command: one record a line, the empty line too, as textlab predict --confidences writes them
    records = [json.loads(line) for line in cli.stdout.splitlines()]
    expected = model.predict(REVIEWS[:6] + [""] + REVIEWS[6:])
    assert [(r["text"], r["label"]) for r in records] == [(r.text, r.label) for r in expected]
    for record, r in zip(records, expected):
        assert all(abs(record["probabilities"][k] - p) <= 1e-4 for k, p in r.probabilities.items())
    assert len({r["label"] for r in records}) > 1  # a classifier that says one label everywhere would compare little


def run_runtime(capsys, *args):
    with pytest.raises(SystemExit) as stopped:
        runtime_main([*map(str, args)])
    return stopped.value.code, capsys.readouterr().err


def test_a_folder_that_is_not_an_export_is_one_line_and_exit_2(exported_tagger, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("Some text.\n")
    code, err = run_runtime(capsys, tmp_path / "nowhere", tmp_path / "in.txt")
    assert code == 2 and err == f"textlab: error: {tmp_path / 'nowhere'}: does not exist; expected the folder " \
                                "`textlab export --format onnx --output DIR` writes\n"
    # the model without its description
    (tmp_path / "half").mkdir()
    shutil.copy(exported_tagger / "model.onnx", tmp_path / "half")
    code, err = run_runtime(capsys, tmp_path / "half", tmp_path / "in.txt")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"textlab: error: {tmp_path / 'half' / 'textlab_model.json'}: missing; expected the folder")
    # a description of a format this runtime does not read
    shutil.copytree(exported_tagger, tmp_path / "future")
    manifest = json.loads((exported_tagger / "textlab_model.json").read_text())
    (tmp_path / "future" / "textlab_model.json").write_text(json.dumps({**manifest, "format_version": 2}))
    code, err = run_runtime(capsys, tmp_path / "future", tmp_path / "in.txt")
    assert code == 2 and err.count("\n") == 1
    assert f"{tmp_path / 'future' / 'textlab_model.json'}: format_version 2 (written by textlab {textlab.__version__})" in err
    # a model file that is not ONNX
    (tmp_path / "future" / "textlab_model.json").write_text(json.dumps(manifest))
    (tmp_path / "future" / "model.onnx").write_bytes(b"not a model")
    code, err = run_runtime(capsys, tmp_path / "future", tmp_path / "in.txt")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"textlab: error: {tmp_path / 'future' / 'model.onnx'}: onnxruntime cannot load it (")


def test_bad_input_and_options_are_one_line_and_exit_2(exported_tagger, tmp_path, capsys):
    code, err = run_runtime(capsys, exported_tagger, tmp_path / "missing.txt")
    assert code == 2 and err == f"textlab: error: {tmp_path / 'missing.txt'}: No such file or directory\n"
    (tmp_path / "docs.jsonl").write_text('{"text": "Paris."}\n{"txt": "Berlin."}\n')
    code, err = run_runtime(capsys, exported_tagger, tmp_path / "docs.jsonl", "--output", tmp_path / "out.jsonl")
    assert code == 2 and err.endswith(f'textlab: error: {tmp_path / "docs.jsonl"}:2: expected a JSON object with a '
                                      '"text" string, such as {"text": "Angela Merkel visited Paris.", "id": 7}\n')
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.jsonl.partial").exists()
    code, err = run_runtime(capsys, exported_tagger, tmp_path / "docs.jsonl", "--input_format", "csv")
    assert code == 2 and err == "textlab: error: --input_format csv: this model reads text, tokenized, jsonl, conll " \
                                "(or auto)\n"
    code, err = run_runtime(capsys, exported_tagger, tmp_path / "docs.jsonl", "--confidences")
    assert code == 2 and err.startswith("textlab: error: --confidences: an exported tagger gives its tags only")
    code, err = run_runtime(capsys, exported_tagger, tmp_path / "docs.jsonl", "--batch_size", "many")
    assert code == 2 and err == "textlab: error: argument --batch_size: invalid int value: 'many' (python -m " \
                                "textlab.runtime --help lists them)\n"


def test_jsonl_documents_keep_their_ids_and_tags_convert_to_iob2(exported_tagger, tmp_path, capsys):
    lines = [json.dumps({"text": TOY[0], "id": "a"}), "", json.dumps({"text": DOCUMENT, "id": 7})]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    runtime_main([str(exported_tagger), str(tmp_path / "docs.jsonl"), "--output", str(tmp_path / "out.jsonl")])
    runtime_main([str(exported_tagger), str(tmp_path / "docs.jsonl"), "--tag_scheme", "IOB2", "--output",
                  str(tmp_path / "iob2.jsonl")])
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    iob2 = [json.loads(line) for line in (tmp_path / "iob2.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["a"] + [7] * 6 and [r["document"] for r in records] == [0] + [1] * 6
    assert any(t.startswith(("S-", "E-")) for r in records for t in r["tags"])  # the toy model tags in BIOES
    assert all(t[:2] not in ("S-", "E-") for r in iob2 for t in r["tags"])
    assert [r["entities"] for r in iob2] == [r["entities"] for r in records]
    assert "docs.jsonl: read as JSON lines, a document a line" in capsys.readouterr().err
