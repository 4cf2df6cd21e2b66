"""Each SQL construct against the same computation written directly with Daft or pyarrow."""

from __future__ import annotations

import daft
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from daft import Window, col

from mdfql import Session

DOCS = {
    "id": [1, 2, 3, 4, 5, 6, 7, 8],
    "host": ["a.com", "a.com", "b.org", "b.org", "b.org", "c.net", "c.net", "d.io"],
    "words": [120, 40, 300, 300, 15, 80, None, 55],
    "lang": ["en", "en", "fr", "en", "de", "en", "en", "es"],
    "text": ["Cats sleep.", "Dogs bark!", "Le chat dort.", "Birds sing", "Hund", "Fish swim.",
             None, "Hola"],
    "meta": [{"score": float(i) / 10, "tags": [f"t{i}.{j}" for j in range(i % 3)]}
             for i in range(8)],
}
LABELS = {"host": ["a.com", "b.org", "z.zz"], "label": ["news", "blog", "none"]}


@pytest.fixture
def session() -> Session:
    s = Session()
    s.attach("docs", daft.from_pydict(DOCS)).attach("labels", daft.from_pydict(LABELS))
    return s


def rows(df: daft.DataFrame) -> list[dict]:
    return df.to_pylist()


def test_where_order_limit(session):
    got = session.sql("SELECT id, words FROM docs WHERE words >= 55 AND lang = 'en' "
                      "ORDER BY words DESC, id LIMIT 3")
    table = pa.table(DOCS)
    mask = pc.and_(pc.greater_equal(table["words"], 55), pc.equal(table["lang"], "en"))
    expect = table.filter(mask).sort_by([("words", "descending"), ("id", "ascending")])
    assert rows(got) == expect.select(["id", "words"]).slice(0, 3).to_pylist()


def test_group_by_having(session):
    got = session.sql("SELECT host, count(*) AS n, sum(words) AS total, avg(words) AS mean "
                      "FROM docs GROUP BY host HAVING count(*) >= 2 ORDER BY host")
    df = daft.from_pydict(DOCS)
    expect = (df.groupby("host")
              .agg(col("id").count().alias("n"), col("words").sum().alias("total"),
                   col("words").mean().alias("mean"))
              .where(col("n") >= 2).sort("host"))
    assert rows(got) == rows(expect)


def test_group_by_expression_position_and_alias(session):
    by_pos = session.sql("SELECT upper(lang) AS l, max(words) AS m FROM docs GROUP BY 1 "
                         "ORDER BY l")
    by_alias = session.sql("SELECT upper(lang) AS l, max(words) AS m FROM docs GROUP BY l "
                           "ORDER BY l")
    table = pa.table(DOCS)
    expect = (table.append_column("l", pc.utf8_upper(table["lang"]))
              .group_by("l").aggregate([("words", "max")]).sort_by("l"))
    assert rows(by_pos) == rows(by_alias) == [
        {"l": r["l"], "m": r["words_max"]} for r in expect.to_pylist()
    ]


@pytest.mark.parametrize("how,sql_join", [
    ("inner", "JOIN"), ("left", "LEFT JOIN"), ("semi", "SEMI JOIN"), ("anti", "ANTI JOIN"),
])
def test_joins(session, how, sql_join):
    cols = "d.id, l.label" if how in ("inner", "left") else "d.id"
    got = session.sql(f"SELECT {cols} FROM docs d {sql_join} labels l ON d.host = l.host "
                      "ORDER BY d.id")
    left, right = daft.from_pydict(DOCS), daft.from_pydict(LABELS)
    joined = left.join(right, on="host", how=how)
    keep = ["id", "label"] if how in ("inner", "left") else ["id"]
    assert rows(got) == rows(joined.select(*keep).sort("id"))


def test_join_using_and_in_subquery(session):
    using = session.sql("SELECT id, label FROM docs JOIN labels USING (host) ORDER BY id")
    in_sub = session.sql("SELECT id FROM docs WHERE host IN (SELECT host FROM labels) "
                         "ORDER BY id")
    not_in = session.sql("SELECT id FROM docs WHERE host NOT IN (SELECT host FROM labels) "
                         "ORDER BY id")
    assert [r["id"] for r in rows(using)] == [r["id"] for r in rows(in_sub)] == [1, 2, 3, 4, 5]
    assert [r["id"] for r in rows(not_in)] == [6, 7, 8]


def test_union_and_cte(session):
    got = session.sql("WITH en AS (SELECT id FROM docs WHERE lang = 'en'), "
                      "big AS (SELECT id FROM docs WHERE words > 100) "
                      "SELECT id FROM en UNION SELECT id FROM big ORDER BY id")
    all_ = session.sql("SELECT id FROM docs WHERE lang = 'en' UNION ALL "
                       "SELECT id FROM docs WHERE words > 100")
    table = pa.table(DOCS)
    en = set(table.filter(pc.equal(table["lang"], "en"))["id"].to_pylist())
    big = set(table.filter(pc.greater(table["words"], 100))["id"].to_pylist())
    assert [r["id"] for r in rows(got)] == sorted(en | big)
    assert all_.count_rows() == len(en) + len(big)


def test_case_cast_and_operators(session):
    got = session.sql(
        "SELECT id, CASE WHEN words > 100 THEN 'long' WHEN words IS NULL THEN 'unknown' "
        "ELSE 'short' END AS size, CAST(words AS DOUBLE) / 2 AS half, "
        "host || '/' || id AS key, words BETWEEN 50 AND 150 AS mid, "
        "lang IN ('en', 'fr') AS major, text LIKE '%.' AS sentence FROM docs ORDER BY id")
    out = rows(got)
    for r, words, host, lang, text in zip(out, DOCS["words"], DOCS["host"], DOCS["lang"],
                                          DOCS["text"]):
        size = "unknown" if words is None else "long" if words > 100 else "short"
        assert r["size"] == size
        assert r["half"] == (None if words is None else words / 2)
        assert r["key"] == f"{host}/{r['id']}"
        assert r["mid"] == (None if words is None else 50 <= words <= 150)
        assert r["major"] == (lang in ("en", "fr"))
        assert r["sentence"] == (None if text is None else text.endswith("."))


def test_struct_and_list_access(session):
    got = session.sql("SELECT id, meta.score AS s, meta['score'] AS s2, meta.tags[1] AS t1, "
                      "meta.tags[2] AS t2, meta.tags[-1] AS last, "
                      "list_length(meta.tags) AS n FROM docs ORDER BY id")
    for r, m in zip(rows(got), DOCS["meta"]):
        assert r["s"] == r["s2"] == m["score"]
        assert r["t1"] == (m["tags"][0] if m["tags"] else None)
        assert r["t2"] == (m["tags"][1] if len(m["tags"]) > 1 else None)
        assert r["last"] == (m["tags"][-1] if m["tags"] else None)
        assert r["n"] == len(m["tags"])


def test_window_functions_and_qualify(session):
    got = session.sql(
        "SELECT id, host, row_number() OVER (PARTITION BY host ORDER BY id DESC) AS rn, "
        "rank() OVER (PARTITION BY lang ORDER BY words DESC) AS rk, "
        "lag(id) OVER (PARTITION BY host ORDER BY id) AS prev, "
        "sum(words) OVER (PARTITION BY host) AS host_words FROM docs ORDER BY id")
    df = daft.from_pydict(DOCS)
    import daft.functions as F
    expect = df.select(
        "id", "host",
        F.row_number().over(Window().partition_by("host").order_by("id", desc=True)).alias("rn"),
        # DuckDB semantics: NULLs sort last in both directions
        F.rank().over(Window().partition_by("lang").order_by("words", desc=True,
                                                             nulls_first=False)).alias("rk"),
        F.lag(col("id")).over(Window().partition_by("host").order_by("id")).alias("prev"),
        col("words").sum().over(Window().partition_by("host")).alias("host_words"),
    ).sort("id")
    assert rows(got) == rows(expect)
    latest = session.sql("SELECT id, host FROM docs QUALIFY row_number() OVER "
                         "(PARTITION BY host ORDER BY id DESC) = 1 ORDER BY host")
    assert [r["id"] for r in rows(latest)] == [2, 5, 7, 8]


def test_distinct_and_distinct_on(session):
    hosts = session.sql("SELECT DISTINCT host FROM docs ORDER BY host")
    assert [r["host"] for r in rows(hosts)] == sorted(set(DOCS["host"]))
    first = session.sql("SELECT DISTINCT ON (host) host, id, words FROM docs "
                        "ORDER BY host, words DESC NULLS LAST")
    table = pa.table(DOCS).to_pylist()
    expect = {}
    for r in sorted(table, key=lambda r: (r["host"], -(r["words"] or -1), r["id"])):
        expect.setdefault(r["host"], r["id"])
    assert {r["host"]: r["id"] for r in rows(first)} == expect


def test_distinct_on_is_deterministic_without_order(session):
    a = session.sql("SELECT DISTINCT ON (lang) lang, id FROM docs ORDER BY lang")
    b = Session().attach("docs", daft.from_pydict(DOCS).into_partitions(3)).sql(
        "SELECT DISTINCT ON (lang) lang, id FROM docs ORDER BY lang")
    assert rows(a) == rows(b)
    # ties on the key are broken by the output columns: the smallest id wins
    assert {r["lang"]: r["id"] for r in rows(a)} == {"de": 5, "en": 1, "es": 8, "fr": 3}


def test_distinct_on_computed_keys(session):
    """Keys may be any expression, including ones Daft gives no name (CASE over a struct)."""
    urls = Session().attach("pages", daft.from_pydict({
        "url": ["http://A.com/x", "http://a.com/x/", "https://a.com/x", "http://b.org/?b=2&a=1",
                "http://b.org/?a=1&b=2#top"],
        "day": [2, 1, 3, 5, 4]}))
    got = urls.sql("SELECT DISTINCT ON (normalize_url(url)) url, day FROM pages ORDER BY day")
    assert [(r["url"], r["day"]) for r in rows(got)] == [
        ("http://a.com/x/", 1), ("https://a.com/x", 3), ("http://b.org/?a=1&b=2#top", 4)]
    by_len = session.sql("SELECT DISTINCT ON (length(host) > 4) host FROM docs ORDER BY host")
    assert [r["host"] for r in rows(by_len)] == ["a.com", "d.io"]


def test_views_macros_parameters(session):
    df = session.sql("""
        SET $min_words = 50;
        CREATE MACRO is_long(w, n) AS coalesce(w, 0) >= n;
        CREATE VIEW long_docs AS SELECT * FROM docs WHERE is_long(words, $min_words);
        SELECT id FROM long_docs ORDER BY id;
    """)
    assert [r["id"] for r in rows(df)] == [1, 3, 4, 6, 8]


def test_parameter_override():
    s = Session().attach("docs", daft.from_pydict(DOCS))
    program = s.compile("SET $n = 50;\nSELECT id FROM docs WHERE words >= $n ORDER BY id",
                        params={"n": "200"})
    assert [r["id"] for r in program.actions[0].df.to_pylist()] == [3, 4]


def test_string_and_hash_builtins(session):
    got = session.sql("SELECT lower(text) AS lo, length(text) AS n, "
                      "regexp_replace(text, '[aeiou]', '_') AS r, hash(text) AS h, "
                      "substring(text, 2, 3) AS sub FROM docs ORDER BY id")
    df = daft.from_pydict(DOCS).sort("id")
    import daft.functions as F
    expect = df.select(col("text").lower().alias("lo"), col("text").length().alias("n"),
                       F.regexp_replace(col("text"), "[aeiou]", "_").alias("r"),
                       F.hash(col("text"), seed=0, hash_function="xxhash3_64").alias("h"),
                       F.substr(col("text"), 1, 3).alias("sub"))
    assert rows(got) == rows(expect)


def test_user_function_registered_by_decorator(session):
    @session.function(return_dtype=daft.DataType.int64())
    def vowel_count(text: daft.Series) -> list:
        """Vowels per text."""
        return [None if t is None else sum(c in "aeiou" for c in t.lower())
                for t in text.to_pylist()]

    got = session.sql("SELECT vowel_count(text) AS v FROM docs ORDER BY id")
    assert [r["v"] for r in rows(got)] == [
        None if t is None else sum(c in "aeiou" for c in t.lower()) for t in DOCS["text"]
    ]


def test_plugin_module_loaded_from_sql(tmp_path, monkeypatch, session):
    plugin = tmp_path / "my_filters.py"
    plugin.write_text(
        "import daft, mdfql\n"
        "@mdfql.udf(return_dtype=daft.DataType.bool())\n"
        "def ends_with_period(text: daft.Series, strict: bool = True):\n"
        "    return [t is not None and t.endswith('.') for t in text.to_pylist()]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    got = session.sql("LOAD 'my_filters';\n"
                      "SELECT id FROM docs WHERE ends_with_period(text, strict := false) "
                      "ORDER BY id")
    assert [r["id"] for r in rows(got)] == [1, 3, 6]


def test_explain_is_lazy_and_does_not_execute(session):
    program = session.compile("EXPLAIN SELECT id FROM docs WHERE words > 10")
    assert [a.kind for a in program.actions] == ["explain"]


def test_order_by_prefers_select_alias(session):
    got = session.sql("SELECT id, -words AS words FROM docs WHERE words IS NOT NULL "
                      "ORDER BY words LIMIT 2")
    assert [r["id"] for r in rows(got)] == [3, 4]  # by the alias: -300 first
