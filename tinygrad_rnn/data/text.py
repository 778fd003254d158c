"""Word-level one-hot encoding, and a tiny sentiment set built on a compositional rule.

Words are a text's runs of letters and digits, lower-cased: "I am NOT happy!" holds the words
i, am, not, happy (an apostrophe joins its word: "isn't" is "isnt"). The sentiment phrases
each hold exactly one sentiment word, at most one "not", and optional intensifiers
(very, really) that do not change the label: the label is True (positive) exactly when
(the sentiment word is positive) XOR (the phrase contains "not"). So "not good" is negative
and "not bad" positive, and a recurrent network can learn the rule from order and presence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from ..errors import DataError, UnknownWordError

_WORD = re.compile(r"[^\W_]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019")


def words_of(text: str) -> list[str]:
    """The words of `text`: lower-cased, punctuation dropped (apostrophes join, the rest split)."""
    return _WORD.findall(text.lower().translate(_APOSTROPHES))


class Vocabulary:
    """Sorted index of the words in some texts; `encode` turns a text into one-hot rows.

    Pass any iterable of texts; a `{text: label}` dict iterates its texts, split by `words_of`.
    Word w gets index position(w) in the sorted word list, so the index is the same on every run.
    """

    def __init__(self, texts: Iterable[str]):
        if isinstance(texts, str):
            raise TypeError("Vocabulary takes a collection of texts (or a {text: label} dict), not one string")
        distinct_words = {word for text in texts for word in words_of(text)}
        self.words: tuple[str, ...] = tuple(sorted(distinct_words))
        if not self.words:
            raise DataError("Vocabulary found no words in the texts given")
        self.index: dict[str, int] = {word: position for position, word in enumerate(self.words)}

    @classmethod
    def from_words(cls, words: Iterable[str]) -> Vocabulary:
        """The vocabulary holding exactly `words` (such as a saved `vocab.words`)."""
        words = list(words)
        for word in words:
            if not isinstance(word, str) or words_of(word) != [word]:
                raise DataError(f"Vocabulary.from_words: {word!r} is not one lower-case word")
        return cls([" ".join(words)])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def encode(self, text: str) -> np.ndarray:
        """One-hot rows for the T words of `text`: shape (T, V), row t has a 1 at index(word_t)."""
        words = words_of(text)
        if not words:
            raise DataError(f"cannot encode {text!r}: it has no words")
        for word in words:
            if word not in self.index:
                raise UnknownWordError(
                    f"unknown word {word!r} in {text!r}: not among the vocabulary's {len(self)} words"
                )
        one_hot = np.zeros((len(words), len(self)), dtype=np.float64)
        one_hot[np.arange(len(words)), [self.index[word] for word in words]] = 1.0
        return one_hot


_TRAIN_PHRASES = (
    ("good", True),
    ("bad", False),
    ("happy", True),
    ("sad", False),
    ("great", True),
    ("awful", False),
    ("fine", True),
    ("terrible", False),
    ("not good", False),
    ("not happy", False),
    ("not bad", True),
    ("not sad", True),
    ("i am happy", True),
    ("i am sad", False),
    ("i was good", True),
    ("i was bad", False),
    ("this is great", True),
    ("this is terrible", False),
    ("this was fine", True),
    ("this was awful", False),
    ("it is good", True),
    ("it is bad", False),
    ("it was great", True),
    ("it was sad", False),
    ("i am very good", True),
    ("i am very bad", False),
    ("i was very happy", True),
    ("i was very sad", False),
    ("this is very good", True),
    ("this is very sad", False),
    ("this was very good", True),
    ("this was very bad", False),
    ("it is very good", True),
    ("it is very bad", False),
    ("it was very good", True),
    ("it was very sad", False),
    ("i am really happy", True),
    ("i was really awful", False),
    ("this is really great", True),
    ("this was really terrible", False),
    ("it is really fine", True),
    ("it was really bad", False),
    ("i am not happy", False),
    ("i am not sad", True),
    ("i was not fine", False),
    ("i was not bad", True),
    ("this is not good", False),
    ("this is not awful", True),
    ("this was not great", False),
    ("this was not bad", True),
    ("it is not fine", False),
    ("it is not terrible", True),
    ("it was not good", False),
    ("it was not sad", True),
    ("i am not very happy", False),
    ("i am not very sad", True),
    ("i was not very good", False),
    ("i was not very happy", False),
    ("this is not very good", False),
    ("this is not very bad", True),
    ("this was not very great", False),
    ("this was not very sad", True),
    ("it is not very good", False),
    ("it is not very bad", True),
    ("it was not very great", False),
    ("it was not very good", False),
)

_TEST_PHRASES = (
    ("i am good", True),
    ("i was happy", True),
    ("this is bad", False),
    ("it was awful", False),
    ("this was good", True),
    ("i am very happy", True),
    ("this is very bad", False),
    ("it is very sad", False),
    ("i was very good", True),
    ("i am really sad", False),
    ("this is really good", True),
    ("it was really great", True),
    ("i am not good", False),
    ("i was not sad", True),
    ("this is not bad", True),
    ("it is not great", False),
    ("it was not awful", True),
    ("this was not fine", False),
    ("i am not very good", False),
    ("i was not very bad", True),
    ("it is not very sad", True),
    ("this was not very good", False),
)


def sentiment_data() -> tuple[dict[str, bool], dict[str, bool]]:
    """Return fresh (train, test) dicts {phrase: is_positive}: 66 and 22 phrases, 17 words.

    Test phrases are new combinations of training words only, labelled by the same rule.
    Every sentiment word appears in training both plain and after "not". Negated training
    phrases lean towards positive words ("not good" is commoner than "not bad"), which gives
    "not" a direct link to negative labels: with a perfectly balanced set, an RNN started from
    tiny weights (document 003's randn / 1000) stays at chance far longer.
    """
    return dict(_TRAIN_PHRASES), dict(_TEST_PHRASES)
