"""The user-facing commands, run as a user runs them: `python -m textlab ...` in a subprocess."""

import json
import subprocess
import sys

import pytest
import torch

from conftest import TAGGER_DATA, TINY, TOY_CONFIG, metric_from_table, run_textlab
from textlab.data.toy_ner import generate_toy_ner
from textlab.metrics.span_f1 import extract_spans
from textlab.results import Span

TEXT = "EU rejects German call to boycott British lamb .\nPeter Blackburn visited Karlsburg on Monday .\n"


def test_fit_writes_checkpoints_and_tests_the_best_one(trained_tagger):
    # that the F1 is the best epoch's and not the last's is checked where they differ, in test_resume.py
    assert trained_tagger["best"].is_file() and trained_tagger["last"].is_file()
    assert metric_from_table(trained_tagger["fit_output"], "test/f1") > 0.5


def test_test_command_reproduces_the_f1_printed_by_fit(trained_tagger, tmp_path):
    proc = run_textlab(
        "test", "--config", TOY_CONFIG, *TAGGER_DATA, "--ckpt_path", trained_tagger["best"],
        "--trainer.default_root_dir", tmp_path, cwd=tmp_path,
    )
    assert metric_from_table(proc.stdout, "test/f1") == metric_from_table(trained_tagger["fit_output"], "test/f1")


def test_test_needs_only_the_checkpoint_and_the_data_and_leaves_no_config_behind(trained_tagger, tmp_path):
    toy_data = ["--data.class_path", "textlab.data.ToyNERDataModule", *TAGGER_DATA]
    proc = run_textlab("test", "--ckpt_path", trained_tagger["best"], *toy_data, cwd=tmp_path)
    assert metric_from_table(proc.stdout, "test/f1") == metric_from_table(trained_tagger["fit_output"], "test/f1")
    assert not list(tmp_path.rglob("config.yaml"))  # only fit keeps a record of its config


def test_test_and_predict_show_no_warnings_about_resuming_a_fit_nor_adverts(trained_tagger, tmp_path):
    # Loading a checkpoint, Lightning warns that the fit's callbacks are missing and that the checkpoint
    # folder moved: true, and irrelevant unless the fit is being resumed.
    toy_data = ["--data.class_path", "textlab.data.ToyNERDataModule", *TAGGER_DATA]
    tested = run_textlab("test", "--ckpt_path", trained_tagger["best"], *toy_data, cwd=tmp_path, warnings=True)
    assert metric_from_table(tested.stdout, "test/f1") == metric_from_table(trained_tagger["fit_output"], "test/f1")
    (tmp_path / "in.txt").write_text(TEXT)
    predicted = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt",
                            cwd=tmp_path, warnings=True)
    for proc in (tested, predicted):
        assert "Be aware that when using `ckpt_path`" not in proc.stderr
        assert "dirpath has changed" not in proc.stderr
        assert "Tip:" not in proc.stdout + proc.stderr  # Lightning's adverts for its cloud services


def test_predict_needs_only_the_checkpoint_and_the_input(trained_tagger, tmp_path):
    (tmp_path / "in.txt").write_text(TEXT)
    proc = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt", cwd=tmp_path)
    blocks = proc.stdout.strip("\n").split("\n\n")
    assert len(blocks) == 2
    lines = blocks[0].split("\n")
    assert [line.split("\t")[0] for line in lines] == TEXT.split("\n")[0].split()
    tags = torch.load(trained_tagger["best"], weights_only=True)["hyper_parameters"]["vocab"]["tags"]
    assert all(line.split("\t")[1] in tags for block in blocks for line in block.split("\n"))
    assert not (tmp_path / "lightning_logs").exists()  # predicting leaves no log folders behind


def test_predict_conll_input_to_output_file(trained_tagger, tmp_path):
    (tmp_path / "in.conll").write_text("-DOCSTART- O\n\nEU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n")
    run_textlab(
        "predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.conll",
        "--output", "out/tags.tsv", cwd=tmp_path,
    )
    out = (tmp_path / "out" / "tags.tsv").read_text()
    assert [line.split("\t")[0] for line in out.split("\n") if line] == ["EU", "rejects", "Peter", "Blackburn"]
    assert out.count("\n\n") == 2 and not (tmp_path / "out" / "tags.tsv.partial").exists()


@pytest.mark.parametrize("content, forced, sentences", [
    # one sentence ending in a word that looks like a tag: one line is a sentence, not a token
    ("Peter drove to Karlsburg in his S-Class\n", None, [7]),
    # a token a line, blank lines between sentences, no tag column: CoNLL all the same
    ("EU\nrejects\nit\n\nPeter\nBlackburn\n", None, [3, 2]),
    ("EU NNP\nrejects VBZ\n\nPeter NNP\n", None, [2, 1]),  # token and POS columns
    ("EU\nrejects\n", "conll", [2]),  # the guess overruled
])
def test_predict_reads_text_or_conll_as_the_input_is(trained_tagger, tmp_path, content, forced, sentences):
    (tmp_path / "in.txt").write_text(content)
    option = ["--data.predict_format", forced] if forced else []
    proc = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt", *option,
                       cwd=tmp_path)
    assert [len(block.split("\n")) for block in proc.stdout.strip("\n").split("\n\n")] == sentences
    tokens = [line.split("\t")[0] for line in proc.stdout.splitlines() if line]
    assert tokens == [line.split()[0] for line in content.splitlines() if line] if len(sentences) > 1 or forced \
        else tokens == content.split()
    if not forced:  # the guess is said, with the way to overrule it
        assert "read as " in proc.stderr and "--data.predict_format" in proc.stderr


def test_predict_output_that_cannot_be_written_is_one_line_and_keeps_what_was_there(trained_tagger, tmp_path):
    (tmp_path / "in.txt").write_text(TEXT)
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("")
    for output, message in [("folder", "--output folder: a folder; give the path of a file to write"),
                            ("afile/sub/out.tsv", "--output afile/sub/out.tsv: afile is a file, not a folder")]:
        proc = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt",
                           "--output", output, cwd=tmp_path, check=False)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == f"textlab: error: {message}"
    # a run that fails after the output was opened leaves the earlier output as it was, and no .partial
    (tmp_path / "out.tsv").write_text("earlier\n")
    (tmp_path / "bad.txt").write_bytes(b"fine\ncaf\xe9\n")
    proc = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "bad.txt",
                       "--output", "out.tsv", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "bad.txt:2: cannot decode byte 0xe9" in proc.stderr
    assert (tmp_path / "out.tsv").read_text() == "earlier\n" and not (tmp_path / "out.tsv.partial").exists()


def test_checkpoint_in_a_fresh_process_predicts_what_the_trained_model_predicted(tmp_path):
    from textlab.cli import TextlabCLI

    cli = TextlabCLI(["fit", "--config", str(TOY_CONFIG), *TINY, "--trainer.default_root_dir", str(tmp_path / "run"),
                      "--test_after_fit", "false", "--trainer.enable_progress_bar", "false"])
    sentences = TEXT.strip().split("\n") + ["Karl Anderson joined Quintech Group in Port Avon ."]
    cli.model.eval()  # predict() needs eval mode; fit leaves the model in training mode
    before = [r.tags for r in cli.model.predict(sentences)]  # the trained model, still in memory
    last = next((tmp_path / "run").rglob("last.ckpt"))
    # a fresh interpreter in an empty folder: nothing but the checkpoint
    empty = tmp_path / "empty"
    empty.mkdir()
    code = (
        "import json, sys; from textlab import load_model; "
        f"m = load_model(sys.argv[1]); print(json.dumps([r.tags for r in m.predict({sentences!r})]))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(last)], cwd=empty, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == before


def test_python_api_returns_tags_and_spans(trained_tagger):
    from textlab import load_model

    model = load_model(trained_tagger["best"])
    toy = [" ".join(s.tokens) for s in generate_toy_ner(seed=7, num_train=1, num_val=1, num_test=5)["test"]]
    result = model.predict(["EU rejects German call", "", ["Peter", "Blackburn"], *toy])
    assert [len(r.tags) for r in result] == [4, 0, 2, *(len(t.split()) for t in toy)]
    assert any(r.spans for r in result)  # the toy tagger finds entities in toy sentences it never saw
    for r in result:
        assert r.spans == [Span(label, s, e + 1, " ".join(r.tokens[s : e + 1])) for label, s, e in extract_spans(r.tags)]
    assert model.predict([[""], ["", "Paris"]])[1].tokens == ["", "Paris"]  # an empty token is a token without characters
    with pytest.raises(TypeError, match=r"a list of sentences .*not a string: predict\(\[text\]\)"):
        model.predict("EU rejects German call")
    with pytest.raises(ValueError, match="batch_size must be at least 1, not 0"):
        model.predict(["EU"], batch_size=0)


def test_python_api_gives_confidences_on_request(trained_tagger):
    from textlab import load_model

    model = load_model(trained_tagger["best"])
    toy = [" ".join(s.tokens) for s in generate_toy_ner(seed=7, num_train=1, num_val=1, num_test=20)["test"]]
    plain = model.predict(toy)
    scored = model.predict([*toy, ""], batch_size=8, confidences=True)
    assert [r.tags for r in scored[:-1]] == [r.tags for r in plain]
    assert scored[-1].confidences == [] and scored[-1].spans == []
    assert all(r.confidences is None and all(s.confidence is None for s in r.spans) for r in plain)
    assert not model.predict_confidences  # the request does not outlive the call
    spans = [(span, r.confidences) for r in scored for span in r.spans]
    assert len(spans) >= 10
    for span, token_confidences in spans:
        # the entity needs each of its tags, so it is never more probable than the least probable of them
        assert 0 < span.confidence <= min(token_confidences[span.start : span.end]) + 1e-4  # float32 sums
    assert any(span.confidence < 0.99 for span, _ in spans)  # not a constant
    with pytest.raises(ValueError, match="holds no confidences: predict with confidences=True"):
        plain[0].to_text(confidences=True)


def test_predict_with_confidences_writes_each_tags_probability(trained_tagger, tmp_path):
    from textlab import load_model

    (tmp_path / "in.txt").write_text(TEXT)
    common = ("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt")
    plain = [line.split("\t") for line in run_textlab(*common, cwd=tmp_path).stdout.splitlines() if line]
    rows = [line.split("\t") for line in run_textlab(*common, "--confidences", "true", cwd=tmp_path).stdout.splitlines()
            if line]
    assert [row[:2] for row in rows] == plain and all(len(row) == 3 for row in rows)
    api = load_model(trained_tagger["best"]).predict(TEXT.splitlines(), confidences=True)
    assert [float(row[2]) for row in rows] == pytest.approx([p for r in api for p in r.confidences], abs=1e-4)



def test_predict_as_json_lines_gives_tokens_tags_and_entities_with_offsets(trained_tagger, tmp_path):
    from textlab import load_model

    (tmp_path / "in.txt").write_text(TEXT)
    common = ("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt", "--output_format", "jsonl")
    plain = [json.loads(line) for line in run_textlab(*common, cwd=tmp_path).stdout.splitlines()]
    scored = [json.loads(line) for line in run_textlab(*common, "--confidences", "true", cwd=tmp_path).stdout.splitlines()]
    api = load_model(trained_tagger["best"]).tag_text(TEXT, confidences=True).sentences  # plain text, as the file
    assert [r["tokens"] for r in plain] == [line.split() for line in TEXT.splitlines()]
    assert [r["tags"] for r in plain] == [r.tags for r in api]
    assert any(r["entities"] for r in plain)  # the shared tagger tags entities: the offsets below are checked
    for record, result in zip(plain, api):
        assert record["entities"] == [s.to_dict() for s in result.spans]
        for entity in record["entities"]:
            assert " ".join(record["tokens"][entity["start"] : entity["end"]]) == entity["text"]
            assert TEXT[entity["start_char"] : entity["end_char"]] == entity["text"]  # character offsets into the input
        assert "confidences" not in record
    for record, result in zip(scored, api):
        assert record["confidences"] == pytest.approx(result.confidences, abs=1e-4)
        assert [e["confidence"] for e in record["entities"]] == pytest.approx([s.confidence for s in result.spans], abs=1e-4)
        assert [{k: v for k, v in e.items() if k != "confidence"} for e in record["entities"]] == [
            s.to_dict() for s in result.spans]



def test_predict_writes_the_tags_in_the_scheme_asked_for(trained_tagger, tmp_path):
    from textlab import load_model
    from textlab.data.conll import convert_tags

    (tmp_path / "in.txt").write_text(TEXT)
    common = ("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt")

    def tags(*options):
        blocks = run_textlab(*common, *options, cwd=tmp_path).stdout.strip("\n").split("\n\n")
        return [[line.split("\t")[1] for line in block.splitlines()] for block in blocks]

    model_scheme = load_model(trained_tagger["best"]).vocab.tag_scheme
    other = {"IOB2": "BIOES", "BIOES": "IOB2"}[model_scheme]
    own, converted = tags(), tags("--tag_scheme", other)
    assert tags("--tag_scheme", model_scheme) == own
    assert converted == [convert_tags(t, model_scheme, other) for t in own] != own  # entities of several tokens
    assert [extract_spans(t) for t in converted] == [extract_spans(t) for t in own]
    entities = [[{k: v for k, v in e.items() if k not in ("start_char", "end_char")} for e in json.loads(line)["entities"]]
                for line in run_textlab(*common, "--tag_scheme", other, "--output_format", "jsonl",
                                        cwd=tmp_path).stdout.splitlines()]
    assert entities == [[{"label": k, "start": s, "end": e + 1, "text": " ".join(line.split()[s : e + 1])}
                         for k, s, e in extract_spans(t)] for t, line in zip(own, TEXT.splitlines())]

def test_an_unknown_output_format_is_one_line(trained_tagger, tmp_path):
    (tmp_path / "in.txt").write_text(TEXT)
    proc = run_textlab("predict", "--ckpt_path", trained_tagger["best"], "--data.predict_file", "in.txt",
                       "--output_format", "json", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("textlab: error:")
    assert "output_format" in proc.stderr

def test_min_entity_probability_drops_the_unlikely_entities_when_testing_a_checkpoint(trained_tagger, tmp_path):
    def counts(*option):
        out = run_textlab("test", "--config", TOY_CONFIG, *TAGGER_DATA, "--ckpt_path", trained_tagger["best"], *option,
                          "--trainer.default_root_dir", tmp_path, cwd=tmp_path).stdout
        return {name: metric_from_table(out, f"test/{name}") for name in ("n_pred", "tp", "n_gold")}

    everything, likely = counts(), counts("--model.init_args.decoder.init_args.min_entity_probability", "0.9")
    assert likely["n_gold"] == everything["n_gold"]
    assert likely["n_pred"] < everything["n_pred"]  # the toy tagger is unsure of some entities
    assert likely["tp"] / likely["n_pred"] > everything["tp"] / everything["n_pred"]  # and they are the wrong ones more often


def test_fit_with_train_with_dev_tests_the_model_as_trained_not_the_best_val_epoch(tmp_path, monkeypatch):
    from lightning.pytorch import Trainer

    from textlab.cli import TextlabCLI

    tested = []
    original = Trainer.test
    monkeypatch.setattr(Trainer, "test", lambda self, *a, **kw: tested.append(kw["ckpt_path"]) or original(self, *a, **kw))
    cli = TextlabCLI(["fit", "--config", str(TOY_CONFIG), *TINY, "--trainer.default_root_dir", str(tmp_path / "run"),
                      "--data.train_with_dev", "true", "--trainer.enable_progress_bar", "false"])
    assert len(cli.datamodule.datasets["train"]) == 300 + 60  # the toy set's train and val sentences
    assert tested == [None] and "test/f1" in cli.trainer.callback_metrics


def test_commands_keep_the_imports_objects_out_of_the_garbage_collector():
    # a full collection would walk the ~400k objects of torch's and Lightning's imports every few seconds
    code = ("import gc\nfrom textlab.cli import main\nprint(gc.get_freeze_count())\ntry:\n"
            "    main(['export', '--help'])\nexcept SystemExit:\n    pass\nprint(gc.get_freeze_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) == 0 and int(out[-1]) > 100_000
