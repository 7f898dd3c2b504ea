"""Tests for textlab.data.conll: readers, their error messages, and tag-scheme conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textlab.data.conll import (
    SNIFF_LINES,
    conll_sentences,
    convert_tags,
    detect_scheme,
    entity_type,
    from_iob2,
    looks_like_conll,
    read_conll,
    to_iob2,
)
from textlab.data.sentence import Sentence
from textlab.data.text_files import decoded_lines
from textlab.errors import DataFormatError


def write(tmp_path: Path, content: str | bytes, name: str = "data.conll") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def assert_error(path: Path, line: int, fragment: str, call) -> None:
    with pytest.raises(DataFormatError) as info:
        call(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert path.name in message
    assert fragment in message, message


# --- read_conll -------------------------------------------------------------------------------

CONLL03 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Paris NNP B-NP B-LOC
"""


def test_read_conll_skips_docstart_and_splits_sentences(tmp_path: Path) -> None:
    sentences = read_conll(write(tmp_path, CONLL03))
    assert sentences == [
        Sentence(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"]),
        Sentence(["Peter", "Blackburn"], ["B-PER", "I-PER"]),
        Sentence(["Paris"], ["B-LOC"]),
    ]


def test_read_conll_tag_column_choice(tmp_path: Path) -> None:
    path = write(tmp_path, CONLL03)
    chunks = read_conll(path, tag_column=2)
    assert chunks[0].tags == ["B-NP", "B-VP", "B-NP"]
    assert read_conll(path, tag_column=-2) == chunks


def test_read_conll_tabs_crlf_whitespace_only_lines_and_no_trailing_blank(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfa\tB-X\r\nb  I-X\r\n \t\r\nc\tO")
    assert read_conll(path) == [Sentence(["a", "b"], ["B-X", "I-X"]), Sentence(["c"], ["O"])]


def test_read_conll_classic_mac_line_breaks(tmp_path: Path) -> None:
    # a lone CR ends each line (classic Mac OS); split on LF only, the file would be one token line
    path = write(tmp_path, b"a B-X\rb I-X\r\rc O\r")
    assert read_conll(path) == [Sentence(["a", "b"], ["B-X", "I-X"]), Sentence(["c"], ["O"])]
    # in a LF file a stray CR inside a line is whitespace, not a line break
    assert read_conll(write(tmp_path, b"a\rB-X\nb I-X\n")) == [Sentence(["a", "b"], ["B-X", "I-X"])]


def test_a_no_break_space_inside_a_token_is_not_a_column_break(tmp_path: Path) -> None:
    # "10 000" written with U+00A0: str.split() would make it two columns and read the tag from the wrong one
    path = write(tmp_path, "Paris\tB-LOC\n10\u00a0000\tO\nfans\u3000club O\n")
    assert read_conll(path) == [Sentence(["Paris", "10\u00a0000", "fans\u3000club"], ["B-LOC", "O", "O"])]
    assert looks_like_conll(text for _, text in decoded_lines(path, "utf-8"))


def test_read_conll_without_tags(tmp_path: Path) -> None:
    path = write(tmp_path, "a\nb\n\nc\n")
    assert read_conll(path, require_tags=False) == [Sentence(["a", "b"]), Sentence(["c"])]
    untagged = read_conll(write(tmp_path, CONLL03), require_tags=False)
    assert untagged[1] == Sentence(["Peter", "Blackburn"])


def test_read_conll_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, b"caf\xe9 O\n")
    message = "cannot decode byte 0xe9 at column 4 as utf-8; pass --data.files.encoding (e.g. latin-1)"
    assert_error(path, 1, message, read_conll)
    assert read_conll(path, encoding="latin-1") == [Sentence(["caf\u00e9"], ["O"])]


@pytest.mark.parametrize(
    ("content", "line", "fragment", "kwargs"),
    [
        ("a B-X\nb I-X\n\nc x O\n", 4, "expected 2 columns (as on line 1), found 3", {}),
        ("\n\na x B-X\nb O\n", 4, "expected 3 columns (as on line 3), found 2", {}),
        ("a\nb\n\nc x\n", 4, "expected 1 columns (as on line 1), found 2", {"require_tags": False}),
        ("a\nb\n", 1, "expected a token and a tag column, found 1 column", {}),
        (
            "a B-X\nb B-\n",
            2,
            "invalid tag 'B-': expected O or B-/I-/E-/S- followed by an entity type",
            {},
        ),
        ("a O\n\nb X-PER\n", 3, "invalid tag 'X-PER'", {}),
        ("a O\nb PER\n", 2, "invalid tag 'PER'", {}),
        ("a O\nb o\n", 2, "invalid tag 'o'", {}),
        ("a x O\n", 1, "tag column 3 is out of range for 3 columns", {"tag_column": 3}),
        ("a x O\n", 1, "tag column -4 is out of range", {"tag_column": -4}),
        ("a O\nb O\ncaf\xe9 O\n", 3, "cannot decode byte 0xe9 at column 4 as utf-8", {}),
        ("", 1, "no sentences found: expected one token per line, blank lines between", {}),
        ("\n  \n-DOCSTART- O\n\n", 1, "no sentences found", {}),
    ],
)
def test_read_conll_malformed(
    tmp_path: Path, content: str, line: int, fragment: str, kwargs: dict
) -> None:
    # Latin-1 keeps \xe9 a single undecodable byte for the decode case; other cases are ASCII.
    path = write(tmp_path, content.encode("latin-1"), name="train.txt")
    assert_error(path, line, fragment, lambda p: read_conll(p, **kwargs))


# --- reading lines / conll_sentences / looks_like_conll ------------------------------------------------


def read_lines(path: Path, encoding: str = "utf-8") -> list[tuple[int, str]]:
    return list(decoded_lines(path, encoding))


def test_decoding_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"fine\nna\xefve\n", name="bad.txt")
    assert_error(path, 2, "cannot decode byte 0xef at column 3 as utf-8", read_lines)
    assert read_lines(path, encoding="latin-1")[1] == (2, "na\u00efve\n")


def test_text_files_in_encodings_that_do_not_keep_ascii(tmp_path: Path) -> None:
    # Excel's "Unicode text" is UTF-16: read as latin-1 it would give a NUL between every two characters
    path = write(tmp_path, "Peter went\n".encode("utf-16"), name="in.txt")
    for encoding in ("utf-8", "latin-1"):
        assert_error(path, 1, "the file is UTF-16 (it starts with a UTF-16 byte-order mark); convert it to UTF-8",
                     lambda p: read_lines(p, encoding=encoding))
    with pytest.raises(DataFormatError, match=r"in.txt: encoding 'utf-16' is not supported: textlab reads encodings"):
        read_lines(path, encoding="utf-16")
    no_mark = write(tmp_path, "Peter went\n".encode("utf-16-le"), name="le.txt")
    assert_error(no_mark, 1, "NUL byte at column 2: not a text file, or UTF-16 without a byte-order mark", read_lines)
    # the encoding the user chose fails: no advice to try latin-1 (which decodes anything)
    euro = write(tmp_path, "caf\u00e9 \u20ac\n".encode("latin-1", errors="replace"), name="l1.txt")
    with pytest.raises(DataFormatError, match=r"l1.txt:1: cannot decode byte 0xe9 at column 4 as ascii; is the file in another"):
        read_lines(euro, encoding="ascii")
    accented = write(tmp_path, b"na\xc3\xafve caf\xe9\n", name="mixed.txt")  # UTF-8 ending in a latin-1 byte
    assert_error(accented, 1, "cannot decode byte 0xe9 at column 10 as utf-8", read_lines)  # characters, not bytes


def test_conll_sentences_of_lines_name_their_input_and_may_be_none() -> None:
    lines = [(1, "EU B-ORG\n"), (2, "rejects O\n"), (3, "\n"), (4, "Peter B-PER\n")]
    assert list(conll_sentences(lines, "<stdin>")) == [Sentence(["EU", "rejects"], ["B-ORG", "O"]),
                                                      Sentence(["Peter"], ["B-PER"])]
    assert list(conll_sentences([(1, "\n"), (2, "-DOCSTART- O\n")], "<stdin>")) == []  # prediction input may be empty
    with pytest.raises(DataFormatError, match=r"^<stdin>:2: expected 2 columns \(as on line 1\), found 3$"):
        list(conll_sentences([(1, "EU B-ORG\n"), (2, "rejects x O\n")], "<stdin>"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (CONLL03, True),
        ("-DOCSTART-\n\nPeter\nwent\n", True),
        ("Peter B-PER\nwent O\n\nParis S-LOC\n", True),
        ("Peter NNP B-PER\nwent VBD O\n", True),
        ("Peter went home .\nShe said so .\n", False),
        ("Peter went\nShe said\n", False),  # same column count, but 'went' is no tag
        ("Peter B-PER\nwent to O\n", False),  # column counts differ
        ("Peter\nwent\n", False),  # a single column is one-word sentences, not CoNLL
        ("Peter\nwent\n\nShe\nstayed\n", True),  # ... unless blank lines group the tokens into sentences
        ("Peter NNP\nwent VBD\n\nShe PRP\n", True),  # a token and a POS column, no tags
        ("Peter\n\nwent\n", False),  # one-word sentences with blank lines between
        ("Brethard Stikez drove to Port Teth in his new S-Class\n", False),  # one sentence ending in a tag-like word
        ("", False),
        ("\n\n", False),
    ],
)
def test_looks_like_conll(content: str, expected: bool) -> None:
    assert looks_like_conll(content.splitlines(keepends=True)) is expected


def test_looks_like_conll_only_sniffs_the_start() -> None:
    lines = iter(["a O\n"] * 300 + ["this line is plain text\n"])
    assert looks_like_conll(lines)
    assert len(list(lines)) == 301 - SNIFF_LINES  # the rest is left to be read (standard input is read once)
    assert not looks_like_conll(["a O\n"] * 150 + ["plain text\n"])


# --- tag schemes ----------------------------------------------------------------------------------


def test_entity_type() -> None:
    assert entity_type("O") is None
    assert entity_type("B-PER") == "PER"
    assert entity_type("S-B-X") == "B-X"
    with pytest.raises(ValueError, match=r"invalid tag 'X-PER': expected O or B-/I-/E-/S- followed by an entity type"):
        entity_type("X-PER")


@pytest.mark.parametrize(
    ("sequences", "scheme"),
    [
        ([["B-PER", "I-PER", "O"], ["O", "B-LOC"]], "IOB2"),
        ([["B-PER", "B-PER", "I-PER"]], "IOB2"),
        ([], "IOB2"),
        ([["B-PER", "I-PER"], ["I-LOC", "O"]], "IOB1"),  # I- at sentence start
        ([["O", "I-PER", "I-PER"]], "IOB1"),  # I- after O
        ([["B-PER", "I-LOC"]], "IOB1"),  # I- after another type
        ([["I-PER", "B-PER"]], "IOB1"),
        ([["B-PER", "E-PER"]], "BIOES"),
        ([["I-PER"], ["S-LOC"]], "BIOES"),  # E-/S- win over an entity-initial I-
    ],
)
def test_detect_scheme(sequences: list[list[str]], scheme: str) -> None:
    assert detect_scheme(sequences) == scheme
    assert detect_scheme(iter(sequences)) == scheme


IOB1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "O", "I-MISC"]
IOB2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "O", "B-MISC"]
BIOES = ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "E-ORG", "O", "S-MISC"]


def test_conversions_on_an_example() -> None:
    assert to_iob2(IOB1, "IOB1") == IOB2
    assert to_iob2(BIOES, "BIOES") == IOB2
    assert from_iob2(IOB2, "BIOES") == BIOES
    assert convert_tags(IOB1, "IOB1", "BIOES") == BIOES
    assert convert_tags(BIOES, "BIOES", "IOB2") == IOB2
    assert convert_tags([], "IOB2", "BIOES") == []


@pytest.mark.parametrize(
    ("tags", "scheme", "expected"),
    [
        (["O", "I-PER", "I-PER"], "IOB2", ["O", "B-PER", "I-PER"]),  # stray I- starts an entity
        (["B-PER", "I-LOC"], "IOB2", ["B-PER", "B-LOC"]),
        # I- after S- starts a new entity
        (["S-PER", "I-PER", "E-PER"], "BIOES", ["B-PER", "B-PER", "I-PER"]),
        (["B-PER", "E-PER", "E-PER"], "BIOES", ["B-PER", "I-PER", "B-PER"]),
        (["B-PER", "O"], "BIOES", ["B-PER", "O"]),  # unterminated B- is still an entity
        (["E-LOC"], "BIOES", ["B-LOC"]),
    ],
)
def test_to_iob2_repairs_ill_formed_input(
    tags: list[str], scheme: str, expected: list[str]
) -> None:
    assert to_iob2(tags, scheme) == expected


def test_from_iob2_normalises_ill_formed_input() -> None:
    assert from_iob2(["O", "I-PER", "I-PER", "I-LOC"], "BIOES") == ["O", "B-PER", "E-PER", "S-LOC"]
    assert from_iob2(["I-PER"], "IOB2") == ["B-PER"]


def test_unknown_schemes_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown tag scheme"):
        to_iob2(["O"], "BILOU")
    with pytest.raises(ValueError, match="unknown tag scheme"):
        from_iob2(["O"], "IOB1")


# Random well-formed annotations: a sequence of segments, each either O or an entity span.
segments = st.lists(
    st.one_of(
        st.just(None),
        st.tuples(st.sampled_from(["PER", "LOC", "ORG"]), st.integers(min_value=1, max_value=4)),
    ),
    max_size=12,
)


def spans_to_iob2(parts: list[tuple[str, int] | None]) -> list[str]:
    tags: list[str] = []
    for part in parts:
        if part is None:
            tags.append("O")
        else:
            kind, length = part
            tags += ["B-" + kind] + ["I-" + kind] * (length - 1)
    return tags


def iob2_to_iob1(tags: list[str]) -> list[str]:
    # IOB1 keeps B- only where an entity directly follows one of the same type.
    iob1: list[str] = []
    for i, tag in enumerate(tags):
        follows_same_type = i > 0 and tags[i - 1] != "O" and tags[i - 1][2:] == tag[2:]
        iob1.append(tag if tag == "O" or (tag[0] == "B" and follows_same_type) else "I" + tag[1:])
    return iob1


@given(segments)
def test_iob2_bioes_round_trip(parts: list[tuple[str, int] | None]) -> None:
    iob2 = spans_to_iob2(parts)
    bioes = convert_tags(iob2, "IOB2", "BIOES")
    assert len(bioes) == len(iob2)
    assert convert_tags(bioes, "BIOES", "IOB2") == iob2
    assert convert_tags(bioes, "BIOES", "BIOES") == bioes
    assert convert_tags(iob2, "IOB2", "IOB2") == iob2
    assert detect_scheme([bioes]) == ("BIOES" if any(t != "O" for t in iob2) else "IOB2")


@given(segments)
def test_iob1_via_iob2_matches_iob2_source(parts: list[tuple[str, int] | None]) -> None:
    iob2 = spans_to_iob2(parts)
    iob1 = iob2_to_iob1(iob2)
    assert to_iob2(iob1, "IOB1") == iob2
    assert convert_tags(iob1, "IOB1", "BIOES") == convert_tags(iob2, "IOB2", "BIOES")
    assert detect_scheme([iob1]) == ("IOB1" if any(t != "O" for t in iob2) else "IOB2")
