"""Where an answer comes from, decided in one place (DESIGN.md "How a message flows").

In this order: a catalog procedure (understood with confidence), the city's FAQ (its own
text, verbatim, above a calibrated score), the section directory (who handles it: 総合案内),
and a person. A question that none of them covers is never answered with the nearest
procedure: in the middle band the resident is asked (「転入届のことでしょうか？」).

- `retrieval`: the FAQ index (TF-IDF over UniDic lemmas and kana readings, scikit-learn).
- `directory`: the sections and the words of the matters they handle.
- `source`: the decision (`choose`), from the NLU's parse, the FAQ and the directory.
"""
