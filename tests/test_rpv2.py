"""rpv2_signals against an independent Python reference of RedPajama-V2's signal definitions.

The reference below restates, step by step, the definitions of RPv2's rule-based signals
(togethercomputer/RedPajama-Data, app/src/core/quality_signals) with Python's own `str`, `re`
and `unicodedata`, which RPv2 itself uses; RPv2 is not installable, so this is what the Rust
kernel is compared with, field by field, on the 300 real pages and on edge cases. Hand-computed
values on tiny texts guard against a mistake both sides would share.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import string
import unicodedata
from collections import Counter

import daft
import pyarrow as pa
import pytest

import mdfql
from mdfql import _native as nat

# RPv2's stop_words["en"] (github.com/6/stopwords-json, 570 words)
STOP_WORDS_EN = frozenset("""
a a's able about above according accordingly across actually after afterwards again against ain't
all allow allows almost alone along already also although always am among amongst an and another
any anybody anyhow anyone anything anyway anyways anywhere apart appear appreciate appropriate are
aren't around as aside ask asking associated at available away awfully b be became because become
becomes becoming been before beforehand behind being believe below beside besides best better
between beyond both brief but by c c'mon c's came can can't cannot cant cause causes certain
certainly changes clearly co com come comes concerning consequently consider considering contain
containing contains corresponding could couldn't course currently d definitely described despite
did didn't different do does doesn't doing don't done down downwards during e each edu eg eight
either else elsewhere enough entirely especially et etc even ever every everybody everyone
everything everywhere ex exactly example except f far few fifth first five followed following
follows for former formerly forth four from further furthermore g get gets getting given gives go
goes going gone got gotten greetings h had hadn't happens hardly has hasn't have haven't having he
he's hello help hence her here here's hereafter hereby herein hereupon hers herself hi him himself
his hither hopefully how howbeit however i i'd i'll i'm i've ie if ignored immediate in inasmuch
inc indeed indicate indicated indicates inner insofar instead into inward is isn't it it'd it'll
it's its itself j just k keep keeps kept know known knows l last lately later latter latterly
least less lest let let's like liked likely little look looking looks ltd m mainly many may maybe
me mean meanwhile merely might more moreover most mostly much must my myself n name namely nd near
nearly necessary need needs neither never nevertheless new next nine no nobody non none noone nor
normally not nothing novel now nowhere o obviously of off often oh ok okay old on once one ones
only onto or other others otherwise ought our ours ourselves out outside over overall own p
particular particularly per perhaps placed please plus possible presumably probably provides q que
quite qv r rather rd re really reasonably regarding regardless regards relatively respectively
right s said same saw say saying says second secondly see seeing seem seemed seeming seems seen
self selves sensible sent serious seriously seven several shall she should shouldn't since six so
some somebody somehow someone something sometime sometimes somewhat somewhere soon sorry specified
specify specifying still sub such sup sure t t's take taken tell tends th than thank thanks thanx
that that's thats the their theirs them themselves then thence there there's thereafter thereby
therefore therein theres thereupon these they they'd they'll they're they've think third this
thorough thoroughly those though three through throughout thru thus to together too took toward
towards tried tries truly try trying twice two u un under unfortunately unless unlikely until unto
up upon us use used useful uses using usually uucp v value various very via viz vs w want wants
was wasn't way we we'd we'll we're we've welcome well went were weren't what what's whatever when
whence whenever where where's whereafter whereas whereby wherein whereupon wherever whether which
while whither who who's whoever whole whom whose why will willing wish with within without won't
wonder would wouldn't x y yes yet you you'd you'll you're you've your yours yourself yourselves z
zero
""".split())

BULLETS = ("\u2022", "\u2023", "\u25b6", "\u25c0", "\u25e6", "\u25a0", "\u25a1", "\u25aa",
           "\u25ab", "\u2013")
NGRAM_TOP = (2, 3, 4)
NGRAM_DUPE = (5, 6, 7, 8, 9, 10)
FLOAT_FIELDS = (
    "rps_doc_curly_bracket", "rps_doc_frac_all_caps_words", "rps_doc_frac_lines_end_with_ellipsis",
    "rps_doc_frac_no_alph_words", "rps_doc_lorem_ipsum", "rps_doc_mean_word_length",
    "rps_doc_stop_word_fraction", "rps_doc_symbol_to_word_ratio", "rps_doc_frac_unique_words",
    "rps_doc_unigram_entropy",
    *(f"rps_doc_frac_chars_top_{n}gram" for n in NGRAM_TOP),
    *(f"rps_doc_frac_chars_dupe_{n}grams" for n in NGRAM_DUPE),
)
INT_FIELDS = ("rps_doc_word_count", "rps_doc_num_sentences")
LIST_FIELDS = (
    "rps_lines_ending_with_terminal_punctution_mark", "rps_lines_javascript_counts",
    "rps_lines_num_words", "rps_lines_numerical_chars_fraction",
    "rps_lines_start_with_bulletpoint", "rps_lines_uppercase_letter_fraction",
)
ALL_FIELDS = FLOAT_FIELDS + INT_FIELDS + LIST_FIELDS


# --- the reference -----------------------------------------------------------------------------
NO_PUNCT = str.maketrans("", "", string.punctuation)
ASCII_LETTER = re.compile("[a-zA-Z]")


def normalize(text: str) -> str:
    """RPv2's normalisation: drop ASCII punctuation, lowercase, collapse whitespace, NFD."""
    text = text.translate(NO_PUNCT).lower().strip()
    return unicodedata.normalize("NFD", re.sub(r"\s+", " ", text))


def ratio(num: float, den: int) -> float | None:
    """RPv2 stores fractions rounded to 8 decimals, and None when there is nothing to divide by."""
    return round(num / den, 8) if den else None


def reference(text: str) -> dict:
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)      # a line keeps its '\n'
    norm_lines = [normalize(line) for line in lines]
    norm = normalize(text)
    words = norm.split()
    raw_words = re.findall(r"\w+|[^\w\s]+", text)      # nltk's WordPunctTokenizer
    lens = [len(w) for w in words]
    out = {
        "rps_doc_curly_bracket":
            ratio(text.count("{") + text.count("}"), len(text)) or 0.0,
        "rps_doc_frac_all_caps_words": ratio(sum(map(str.isupper, raw_words)), len(raw_words)),
        "rps_doc_frac_lines_end_with_ellipsis":
            ratio(sum(ln.rstrip().endswith(("...", "…")) for ln in lines), len(lines)),
        "rps_doc_frac_no_alph_words": None if not raw_words else round(
            1.0 - sum(map(bool, map(ASCII_LETTER.search, raw_words))) / len(raw_words), 8),
        "rps_doc_lorem_ipsum": ratio(len(re.findall("lorem ipsum", norm, re.IGNORECASE)),
                                     len(norm)) if "lorem ipsum" in norm else 0.0,
        "rps_doc_mean_word_length": ratio(sum(lens), len(words)),
        "rps_doc_stop_word_fraction": 0.0 if not words else
            ratio(sum(w in STOP_WORDS_EN for w in raw_words), len(raw_words)),
        "rps_doc_symbol_to_word_ratio":
            ratio(sum(text.count(s) for s in ("#", "...", "…")), len(raw_words)),
        "rps_doc_frac_unique_words": ratio(len(set(words)), len(words)),
        "rps_doc_unigram_entropy": None if not words else round(sum(
            -c / len(words) * math.log(c / len(words)) for c in Counter(words).values()), 8),
        "rps_doc_word_count": len(words),
        "rps_doc_num_sentences": len(re.findall(r"\b[^.!?]+[.!?]*", text)),
        "rps_lines_ending_with_terminal_punctution_mark":
            [float(ln.rstrip().endswith((".", "!", "?", "”"))) for ln in lines],
        "rps_lines_javascript_counts": [nl.split().count("javascript") for nl in norm_lines],
        "rps_lines_num_words": [len(nl.split()) for nl in norm_lines],
        "rps_lines_numerical_chars_fraction":
            [ratio(sum(map(str.isnumeric, nl)), len(nl)) or 0.0 for nl in norm_lines],
        "rps_lines_start_with_bulletpoint":
            [float(ln.lstrip().startswith(BULLETS)) for ln in lines] or [None],
        "rps_lines_uppercase_letter_fraction":
            [ratio(sum(map(str.isupper, ln)), len(ln)) for ln in lines],
    }
    for n in NGRAM_TOP:
        top = Counter(zip(*(words[i:] for i in range(n)))).most_common(1)
        out[f"rps_doc_frac_chars_top_{n}gram"] = (
            round(sum(map(len, top[0][0])) * top[0][1] / sum(lens), 8)
            if top and top[0][1] > 1 else 0.0)
    for n in NGRAM_DUPE:
        grams = list(zip(*(words[i:] for i in range(n))))
        counts = Counter(grams)
        covered = [False] * len(words)
        for i, g in enumerate(grams):
            if counts[g] > 1:
                covered[i:i + n] = [True] * n
        out[f"rps_doc_frac_chars_dupe_{n}grams"] = (
            ratio(sum(ln for ln, c in zip(lens, covered) if c), sum(lens)) or 0.0
            if len(words) >= n else 0.0)
    return out


# --- comparison --------------------------------------------------------------------------------
def same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def mismatches(texts: list[str]) -> list[tuple[int, str, object, object]]:
    got = nat.rpv2_signals(pa.array(texts, pa.large_string())).to_pylist()
    bad = []
    for i, (text, row) in enumerate(zip(texts, got)):
        assert set(row) == set(ALL_FIELDS)
        want = reference(text)
        for k in ALL_FIELDS:
            a, b = row[k], want[k]
            ok = (len(a) == len(b) and all(map(same, a, b))) if k in LIST_FIELDS else same(a, b)
            if not ok:
                bad.append((i, k, a, b))
    return bad


EDGE_CASES = [
    "", " ", "\n", "\n\n\t \n", "word", "WORD", "Hello, world!", "...", "#",
    "ALL CAPS TEXT HERE. SHOUTING!\nMORE CAPS?",
    "Ünïcödé façade — naïve café… 東京は晴れ。一二三四五 ２０２４年 Ελληνικά ΟΔΟΣ! ¿Qué tal?",
    "• item one\n‣ item two\n– dash item\n  ▪ nested\n- ascii dash\n",
    "Lorem ipsum dolor sit amet, LOREM IPSUM again; lorem\nipsum across lines. lorem ipſum",
    "function f() { return {a: 1}; }\n{{template}}\nvar x = {};",
    "Enable JavaScript to view. javascript:void(0) JAVASCRIPT, javascripts\njavascript",
    "Wait...\nAnd then…\nNothing....   \n......",
    "the the the the the the the the the the the the",
    "a b c d e a b c d e a b c d e f g h a b c d e f g h i j a b c d e f g h i j",
    "spam eggs " * 200,
    "x" * 10_000,
    "\r\nwindows\r\nline\r\nendings\r\n",
    "\u2028line sep\u2029para sep\x0cform feed\x1crecord\x85next\xa0nbsp",
    "e\u0301te\u0301 cafe\u0301 — combining marks; ǅemal ǈ title Ⅻ ½ ① ²",
    "Dr. Smith, Ph.D., e.g. (i.e.) U.S.A.?! Yes!!! No?? ok.\"quoted.\" ”curly”",
    "don't can't won't I'm you're :) $5.00 10km http://x.com/a,b.",
    "  leading spaces\ttabs\t\n\n\ntrailing   ",
    "σ ΣΑΣ Σ. ΟΔΥΣΣΕΥΣ",
    "1234 5678\n90.12\n٣٤٥ ৫৬ 三百",
]


def test_edge_cases_match_reference():
    assert mismatches(EDGE_CASES) == []


def test_hand_computed_values():
    """Values worked out by hand from RPv2's definitions, independent of both implementations."""
    s = nat.rpv2_signals(pa.array(["The cat sat.\nTHE CAT SAT!\n• lorem ipsum {x}..."])
                         ).to_pylist()[0]
    # 46 chars; raw words: The cat sat . THE CAT SAT ! • lorem ipsum { x }... (14)
    assert s["rps_doc_curly_bracket"] == round(2 / 46, 8)
    assert s["rps_doc_frac_all_caps_words"] == round(3 / 14, 8)
    assert s["rps_doc_stop_word_fraction"] == round(1 / 14, 8)          # only "x"
    assert s["rps_doc_symbol_to_word_ratio"] == round(1 / 14, 8)        # one "..."
    assert s["rps_doc_frac_no_alph_words"] == round(1 - 9 / 14, 8)
    # normalised: "the cat sat the cat sat • lorem ipsum x" (39 chars, 10 words of 30 chars,
    # 7 distinct)
    assert s["rps_doc_word_count"] == 10
    assert s["rps_doc_lorem_ipsum"] == round(1 / 39, 8)
    assert s["rps_doc_mean_word_length"] == 3.0
    assert s["rps_doc_frac_unique_words"] == 0.7
    assert s["rps_doc_unigram_entropy"] == round(
        3 * (-0.2 * math.log(0.2)) + 4 * (-0.1 * math.log(0.1)), 8)
    # "the cat" (first of the bigrams seen twice): (3 + 3) * 2 / 30; "the cat sat": 9 * 2 / 30
    assert s["rps_doc_frac_chars_top_2gram"] == 0.4
    assert s["rps_doc_frac_chars_top_3gram"] == 0.6
    assert s["rps_doc_frac_chars_top_4gram"] == 0.0
    assert s["rps_doc_frac_chars_dupe_5grams"] == 0.0
    assert s["rps_doc_num_sentences"] == 3
    assert s["rps_doc_frac_lines_end_with_ellipsis"] == round(1 / 3, 8)
    assert s["rps_lines_ending_with_terminal_punctution_mark"] == [1.0, 1.0, 1.0]
    assert s["rps_lines_start_with_bulletpoint"] == [0.0, 0.0, 1.0]
    assert s["rps_lines_num_words"] == [3, 3, 4]
    assert s["rps_lines_uppercase_letter_fraction"] == [round(1 / 13, 8), round(9 / 13, 8), 0.0]

    rep = nat.rpv2_signals(pa.array(["a b c d e a b c d e x"])).to_pylist()[0]
    # the 5-gram "a b c d e" repeats: its 10 words of 1 char are covered, "x" is not
    assert rep["rps_doc_frac_chars_dupe_5grams"] == round(10 / 11, 8)
    assert rep["rps_doc_frac_chars_dupe_6grams"] == 0.0

    lines = nat.rpv2_signals(pa.array(["Call 555 1234\njavascript JavaScript!\n\n"])
                             ).to_pylist()[0]
    # normalised lines "call 555 1234" (13 chars, 7 digits), "javascript javascript", ""
    assert lines["rps_lines_numerical_chars_fraction"] == [round(7 / 13, 8), 0.0, 0.0]
    assert lines["rps_lines_javascript_counts"] == [0, 2, 0]
    assert lines["rps_lines_num_words"] == [3, 2, 0]


def test_empty_and_null_documents():
    empty, blank, null = nat.rpv2_signals(pa.array(["", "  \t ", None])).to_pylist()
    assert null is None
    # RPv2 returns None for ratios over zero words or lines, 0.0 for the guarded ones
    assert empty["rps_doc_mean_word_length"] is None
    assert empty["rps_doc_frac_lines_end_with_ellipsis"] is None
    assert empty["rps_doc_stop_word_fraction"] == 0.0
    assert empty["rps_doc_curly_bracket"] == 0.0
    assert empty["rps_lines_start_with_bulletpoint"] == [None]     # RPv2's [(0, 0, None)]
    assert empty["rps_lines_num_words"] == []
    assert blank["rps_doc_frac_lines_end_with_ellipsis"] == 0.0     # one (blank) line
    assert blank["rps_doc_frac_all_caps_words"] is None             # no raw words
    assert blank["rps_lines_uppercase_letter_fraction"] == [0.0]


def test_python_character_classes_exhaustively():
    """Each assigned code point (a sample of the 127k `Lo` letters) on its own line, inside words
    and alone: exercises `\\w`, `isspace`, `isupper`, `isnumeric`, lower() and NFD per char."""
    chars = []
    for cp in range(0x110000):
        c = chr(cp)
        cat = unicodedata.category(c)
        if c == "\n" or cat in ("Cn", "Cs", "Co"):
            continue
        if cat == "Lo" and not c.isnumeric() and cp % 53:
            continue
        chars.append(c)
    docs = ["".join(f"a{c}b {c}.{c}\n" for c in chars[i:i + 64]) for i in range(0, len(chars), 64)]
    assert len(chars) > 19_000
    assert mismatches(docs) == []


def _eval_pages(shared_data) -> tuple[list[str], list[str]]:
    eval_dir = shared_data / "extraction-eval"
    if not eval_dir.exists():
        pytest.skip(f"{eval_dir} not found")
    html = []
    for line in (eval_dir / "cases.jsonl").read_text().splitlines():
        raw = gzip.decompress((eval_dir / json.loads(line)["file"]).read_bytes())
        html.append(raw.decode("utf-8", "replace"))
    texts = nat.extract_text(pa.array(html, pa.large_string())).field("text").to_pylist()
    return [t or "" for t in texts], html


def test_real_pages_match_reference(shared_data):
    texts, html = _eval_pages(shared_data)
    assert len(texts) == 300 and sum(bool(t) for t in texts) > 250
    assert mismatches(texts) == []
    # raw HTML: scripts, braces and long lines (a slice of each page keeps the test fast)
    assert mismatches([h[:10_000] for h in html[::15]]) == []


def test_sql_function():
    docs = daft.from_pydict({"text": ["Hello world. Hello world!", None]})
    got = mdfql.sql("SELECT rpv2_signals(text) AS s, rpv2_signals(text).rps_doc_word_count AS n "
                    "FROM docs", docs=docs).to_pylist()
    assert got[0]["n"] == 4 and got[1]["s"] is None
    assert set(got[0]["s"]) == set(ALL_FIELDS)
    assert got[0]["s"]["rps_lines_num_words"] == [4]
    assert got[0]["s"]["rps_doc_frac_chars_top_2gram"] == round(20 / 20, 8)
