"""scripts/train_steps.py: the same config trains the same weights twice; another seed does not."""

from conftest import TOY_CONFIG, load_script


def test_same_steps_same_weights_and_a_different_seed_differs(tmp_path, capsys):
    script = load_script("train_steps")
    toy = ["--config", str(TOY_CONFIG), "--data.num_train", "100", "--data.num_val", "10", "--data.num_test", "10"]
    runs = {"a": [], "b": [], "other_seed": ["--seed_everything", "7"]}
    for name, extra in runs.items():
        assert script.main(["--out", str(tmp_path / f"{name}.pt"), "--steps", "3", "--root", str(tmp_path / name),
                            "--", *toy, *extra]) == 0
    assert "after 3 steps" in capsys.readouterr().out
    assert script.main(["--compare", str(tmp_path / "a.pt"), str(tmp_path / "b.pt")]) == 0
    assert "bit-identical" in capsys.readouterr().out
    assert script.main(["--compare", str(tmp_path / "a.pt"), str(tmp_path / "other_seed.pt")]) == 1
    assert "differ" in capsys.readouterr().out
