"""Re-ranking: dense scores fused with BM25 over the candidates."""

from __future__ import annotations

from bot.memory.ranking import BM25Index, Candidate, rerank, tokenize


def test_tokenize_drops_stop_words_and_plurals() -> None:
    assert tokenize("What are the ranks of the Order's Inquisitors?") == ["rank", "order", "inquisitor"]


def test_bm25_prefers_rare_matching_terms() -> None:
    index = BM25Index([tokenize(t) for t in ["the river god Rivulus", "a river and a road", "a road"]])
    assert [i for i, _ in index.top(tokenize("Rivulus river"), 3)] == [0, 1]


def test_lexical_match_lifts_a_slightly_weaker_dense_candidate() -> None:
    candidates = [
        Candidate("Smugglers and lieutenants in general terms.", ("Campaign",), 0.46),
        Candidate(
            "The group drives Barathar's lieutenant, Hollister, out of the Sindral Reach.", ("Milestones",), 0.44
        ),
        Candidate("Unrelated rules text about dice.", ("Dice",), 0.30),
    ]
    ranked = rerank("Who was the lieutenant in the Sindral Reach?", candidates, 2)
    assert [c.score for c in ranked] == [0.44, 0.46]
    assert ranked[0].fused >= ranked[1].fused
    assert 0 < ranked[0].lexical <= 1


def test_dense_order_wins_without_lexical_evidence() -> None:
    candidates = [Candidate(f"text {i}", (), score) for i, score in enumerate([0.2, 0.9, 0.5])]
    assert [c.score for c in rerank("completely different words", candidates, 3)] == [0.9, 0.5, 0.2]


def test_heading_words_count() -> None:
    candidates = [
        Candidate("A sect that drowns its initiates.", ("Vald", "Belief", "Tideborn"), 0.50),
        Candidate("A sect of bird watchers.", ("Vald", "Belief", "The White Raven"), 0.51),
    ]
    assert rerank("Tideborn initiation", candidates, 1)[0].heading_path[-1] == "Tideborn"


def test_rerank_keeps_payload_and_limits_k() -> None:
    candidates = [Candidate(f"passage {i}", (), 1.0 - i / 10, chunk_id=f"c{i}", payload={"i": i}) for i in range(5)]
    ranked = rerank("passage", candidates, 2)
    assert [c.chunk_id for c in ranked] == ["c0", "c1"]
    assert ranked[0].payload == {"i": 0}


def test_rerank_of_nothing_is_empty() -> None:
    assert rerank("anything", [], 5) == []
    assert rerank("anything", [Candidate("x", (), 1.0)], 0) == []
